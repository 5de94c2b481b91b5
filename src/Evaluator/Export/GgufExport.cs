using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// Writes a NasPrune model as a GGUF file llama.cpp runs. A model whose layers all have the same, complete shape
/// is written as architecture <c>llama</c>; any other (per-layer heads, FFN widths, missing blocks or layers) as
/// <c>deci</c>, llama.cpp's architecture for heterogeneous LLaMA derivatives (Nemotron-NAS), whose head counts and
/// FFN lengths are per-layer int32 arrays. Tensor names and the q/k row permutation follow
/// convert_hf_to_gguf.py's LlamaModel: Hugging Face rotates halves of each head, llama.cpp rotates adjacent pairs.
/// What the format cannot express (biases, another RoPE layout) is refused with a UserError.
/// </summary>
public static class GgufExport
{
    public static readonly string[] Types = ["f32", "f16", "bf16"];

    public static GgufTensorType ParseType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => GgufTensorType.F32,
        "f16" => GgufTensorType.F16,
        "bf16" => GgufTensorType.BF16,
        _ => throw new UserError($"--gguf-type {name}: expected one of {string.Join(", ", Types)}"),
    };

    /// <summary>True when the model can be written as plain <c>llama</c> (every layer complete and alike).</summary>
    public static bool IsUniform(ModelConfig c) =>
        c.Layers.All(l => l.HasAttention && l.HasMlp) && c.Layers.Distinct().Count() == 1;

    /// <summary>Writes <paramref name="model"/> (stored shapes) and the tokenizer of <paramref name="tokenizerDir"/> to <paramref name="path"/>.</summary>
    public static void Write(LlamaForCausalLM model, string tokenizerDir, string path, GgufTensorType type, string name)
    {
        var c = model.Config;
        CheckExpressible(c);
        bool uniform = IsUniform(c);
        string arch = uniform ? "llama" : "deci";
        var plans = Enumerable.Range(0, c.NumHiddenLayers).Select(i => GgufLayerPlan.For(c, i)).ToArray();

        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.Str(arch));
        w.Add("general.name", GgufValue.Str(name));
        // llama_ftype: 0 all F32, 1 mostly F16, 32 mostly BF16 (norms stay F32).
        w.Add("general.file_type", GgufValue.U32(type switch { GgufTensorType.F32 => 0u, GgufTensorType.F16 => 1u, _ => 32u }));
        w.Add($"{arch}.vocab_size", GgufValue.U32((uint)c.VocabSize));
        w.Add($"{arch}.context_length", GgufValue.U32((uint)c.MaxPositionEmbeddings));
        w.Add($"{arch}.embedding_length", GgufValue.U32((uint)c.HiddenSize));
        w.Add($"{arch}.block_count", GgufValue.U32((uint)c.NumHiddenLayers));
        if (uniform)
        {
            w.Add($"{arch}.feed_forward_length", GgufValue.U32((uint)c.Layers[0].Ffn));
            w.Add($"{arch}.attention.head_count", GgufValue.U32((uint)c.Layers[0].Heads));
            w.Add($"{arch}.attention.head_count_kv", GgufValue.U32((uint)c.Layers[0].KvHeads));
        }
        else
        {
            w.Add($"{arch}.feed_forward_length", GgufValue.I32Array(plans.Select(p => p.Ffn).ToArray()));
            w.Add($"{arch}.attention.head_count", GgufValue.I32Array(plans.Select(p => p.Heads).ToArray()));
            w.Add($"{arch}.attention.head_count_kv", GgufValue.I32Array(plans.Select(p => p.KvHeads).ToArray()));
        }
        // Written explicitly: llama.cpp's default head size is embedding_length / layer 0's head count, which is
        // wrong as soon as layer 0 lost heads.
        w.Add($"{arch}.attention.key_length", GgufValue.U32((uint)c.HeadDim));
        w.Add($"{arch}.attention.value_length", GgufValue.U32((uint)c.HeadDim));
        w.Add($"{arch}.rope.dimension_count", GgufValue.U32((uint)c.HeadDim));
        w.Add($"{arch}.rope.freq_base", GgufValue.F32((float)c.RopeTheta));
        w.Add($"{arch}.attention.layer_norm_rms_epsilon", GgufValue.F32((float)c.RmsNormEps));
        if (c.RopeScaling is { Type: "linear" } linear)
        {
            w.Add($"{arch}.rope.scaling.type", GgufValue.Str("linear"));
            w.Add($"{arch}.rope.scaling.factor", GgufValue.F32((float)linear.Factor));
        }
        GgufTokenizer.AddMetadata(w, tokenizerDir, c);

        var weights = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        Tensor Weight(string key) => weights.TryGetValue(key, out var t) ? t
            : throw new InvalidOperationException($"model has no parameter {key}");
        void Add(string gguf, Func<Tensor> source, bool matrix = true)
        {
            using var probe = NewDisposeScope();
            long[] shape = source().shape;
            w.AddTensor(gguf, shape, matrix ? type : GgufTensorType.F32, () =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                return source().detach().to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
            });
        }
        void AddZeros(string gguf, long rows, long cols) => w.AddTensor(gguf, [rows, cols], type, () => new float[rows * cols]);
        // The norm in front of a zero block: any finite weights keep its output exactly zero; ones are the neutral choice.
        void AddOnes(string gguf) => w.AddTensor(gguf, [c.HiddenSize], GgufTensorType.F32, () => Enumerable.Repeat(1f, c.HiddenSize).ToArray());

        Add("token_embd.weight", () => Weight("model.embed_tokens.weight"));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var plan = plans[i];
            string hf = $"model.layers.{i}.", blk = $"blk.{i}.";
            int heads = plan.Heads, kv = plan.KvHeads;
            if (plan.ZeroAttention)
            {
                AddOnes(blk + "attn_norm.weight");
                AddZeros(blk + "attn_q.weight", (long)heads * c.HeadDim, c.HiddenSize);
                AddZeros(blk + "attn_k.weight", (long)kv * c.HeadDim, c.HiddenSize);
                AddZeros(blk + "attn_v.weight", (long)kv * c.HeadDim, c.HiddenSize);
                AddZeros(blk + "attn_output.weight", c.HiddenSize, (long)heads * c.HeadDim);
            }
            else if (plan.HasAttentionTensors)
            {
                Add(blk + "attn_norm.weight", () => Weight(hf + "input_layernorm.weight"), matrix: false);
                Add(blk + "attn_q.weight", () => RotaryPermute(Weight(hf + "self_attn.q_proj.weight"), heads));
                Add(blk + "attn_k.weight", () => RotaryPermute(Weight(hf + "self_attn.k_proj.weight"), kv));
                Add(blk + "attn_v.weight", () => Weight(hf + "self_attn.v_proj.weight"));
                Add(blk + "attn_output.weight", () => Weight(hf + "self_attn.o_proj.weight"));
            }
            if (plan.ZeroFfn)
            {
                AddOnes(blk + "ffn_norm.weight");
                AddZeros(blk + "ffn_gate.weight", 1, c.HiddenSize);
                AddZeros(blk + "ffn_up.weight", 1, c.HiddenSize);
                AddZeros(blk + "ffn_down.weight", c.HiddenSize, 1);
            }
            else if (plan.HasFfnTensors)
            {
                Add(blk + "ffn_norm.weight", () => Weight(hf + "post_attention_layernorm.weight"), matrix: false);
                Add(blk + "ffn_gate.weight", () => Weight(hf + "mlp.gate_proj.weight"));
                Add(blk + "ffn_up.weight", () => Weight(hf + "mlp.up_proj.weight"));
                Add(blk + "ffn_down.weight", () => Weight(hf + "mlp.down_proj.weight"));
            }
        }
        Add("output_norm.weight", () => Weight("model.norm.weight"), matrix: false);
        // Tied embeddings: no output.weight; llama.cpp then uses token_embd for the output projection.
        if (!c.TieWordEmbeddings) Add("output.weight", () => Weight("lm_head.weight"));
        if (c.RopeScaling is { Type: "llama3" })
            w.AddTensor("rope_freqs.weight", [c.HeadDim / 2], GgufTensorType.F32, () => RopeFrequencyFactors(c));

        string staging = path + ".partial";
        w.Write(staging);
        File.Move(staging, path, overwrite: true);
    }

    /// <summary>
    /// convert_hf_to_gguf.py's permute: within each head, rows [first half; second half] (Hugging Face's rotate-half
    /// pairs i and i + d/2) become interleaved (llama.cpp's NORM RoPE pairs 2i and 2i+1).
    /// </summary>
    public static Tensor RotaryPermute(Tensor weight, int heads)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        return weight.reshape(heads, 2, rows / heads / 2, cols).transpose(1, 2).reshape(rows, cols);
    }

    /// <summary>llama.cpp divides each RoPE frequency by its factor: original / scaled (LLaMA 3.1 rope_scaling).</summary>
    static float[] RopeFrequencyFactors(ModelConfig c)
    {
        var scaled = Rotary.InverseFrequencies(c);
        var original = Rotary.InverseFrequencies(c with { RopeScaling = null });
        return original.Zip(scaled, (o, s) => (float)(o / s)).ToArray();
    }

    public static void CheckExpressible(ModelConfig c)
    {
        if (c.ModelType == "qwen2")
            throw new UserError("GGUF export: qwen2 models (q/k/v biases, NEOX RoPE) are not exported; llama and mistral are");
        if (c.ModelType == "qwen3")
            throw new UserError("GGUF export: qwen3 models (q_norm/k_norm, NEOX RoPE; llama.cpp's qwen3 architecture has no per-layer shapes) are not exported; llama and mistral are");
        if (c.ModelType == "phi3")
            throw new UserError("GGUF export: phi3 models (fused qkv/gate_up, NEOX RoPE; llama.cpp's phi3 architecture has no per-layer shapes) are not exported; llama and mistral are");
        if (c.QkvBias || c.OutputBias || c.MlpBias)
            throw new UserError("GGUF export: projection biases (attention_bias, mlp_bias) have no place in llama.cpp's llama/deci tensors");
        if (c.HeadDim % 2 != 0)
            throw new UserError($"GGUF export: head_dim {c.HeadDim} is odd, RoPE needs pairs");
    }
}
