using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// Writes a NasPrune model as a GGUF file llama.cpp runs. The architecture and tensor layout come from
/// <see cref="GgufLayout"/> (llama, deci, qwen3, openelm, phi3 or qwen2, by family and shape); tensor
/// names and the q/k row permutation of the LLaMA layouts follow convert_hf_to_gguf.py. What no llama.cpp
/// architecture written computes (o_proj and MLP biases, q/k/v biases outside Qwen2, another MLP activation) is
/// refused with a UserError.
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

    /// <summary>Writes <paramref name="model"/> (stored shapes) and the tokenizer of <paramref name="tokenizerDir"/> to <paramref name="path"/>.</summary>
    public static void Write(LlamaForCausalLM model, string tokenizerDir, string path, GgufTensorType type, string name)
    {
        CheckExpressible(model.Config);
        Write(model, tokenizerDir, path, type, name, GgufLayout.For(model.Config));
    }

    /// <summary>Writes <paramref name="model"/> in a given layout (tests: what llama.cpp refuses, and why a layout was chosen).</summary>
    internal static void Write(LlamaForCausalLM model, string tokenizerDir, string path, GgufTensorType type, string name, GgufLayout layout)
    {
        var c = model.Config;
        string arch = layout.Arch;
        var plans = layout.Layers;

        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.Str(arch));
        // llama_ftype: 0 all F32, 1 mostly F16, 32 mostly BF16 (norms stay F32).
        w.Add("general.file_type", GgufValue.U32(type switch { GgufTensorType.F32 => 0u, GgufTensorType.F16 => 1u, _ => 32u }));
        w.Add($"{arch}.vocab_size", GgufValue.U32((uint)c.VocabSize));
        w.Add($"{arch}.context_length", GgufValue.U32((uint)c.MaxPositionEmbeddings));
        w.Add($"{arch}.embedding_length", GgufValue.U32((uint)c.HiddenSize));
        w.Add($"{arch}.block_count", GgufValue.U32((uint)c.NumHiddenLayers));
        if (layout.PerLayerCounts)
        {
            w.Add($"{arch}.feed_forward_length", GgufValue.I32Array(plans.Select(p => p.Ffn).ToArray()));
            w.Add($"{arch}.attention.head_count", GgufValue.I32Array(plans.Select(p => p.Heads).ToArray()));
            w.Add($"{arch}.attention.head_count_kv", GgufValue.I32Array(plans.Select(p => p.KvHeads).ToArray()));
        }
        else
        {
            w.Add($"{arch}.feed_forward_length", GgufValue.U32((uint)plans[0].Ffn));
            w.Add($"{arch}.attention.head_count", GgufValue.U32((uint)plans[0].Heads));
            w.Add($"{arch}.attention.head_count_kv", GgufValue.U32((uint)plans[0].KvHeads));
        }
        // Written explicitly: llama.cpp's default head size is embedding_length / layer 0's head count, which is
        // wrong as soon as layer 0 lost heads (and for Qwen3, whose head_dim is not hidden / heads).
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
        // As convert_hf_to_gguf.py writes it for Phi-3; llama.cpp reads it and (for now) switches it off (GgufLayout.Note).
        if (arch == "phi3" && c.SlidingWindow is { } window)
            w.Add("phi3.attention.sliding_window", GgufValue.U32((uint)window.Size));
        var tokens = GgufTokenizer.AddMetadata(w, tokenizerDir, c);
        w.Add("general.name", GgufValue.Str(LlamaCppSafeName(name, tokens)));
        AddTensors(w, model, layout, type);

        string staging = path + ".partial";
        w.Write(staging);
        File.Move(staging, path, overwrite: true);
    }

    /// <summary>
    /// llama.cpp reads general.name: one containing "phi-3" or "phi3" (any case) makes its vocabulary loader set
    /// attributes of Phi-3's SentencePiece tokens by their text ("&lt;/s&gt;", "&lt;unk&gt;", "&lt;s&gt;",
    /// "&lt;|endoftext|&gt;"), and loading fails ("_Map_base::at") when one is missing, as in the byte-level BPE
    /// vocabularies NasPrune writes. Such a name keeps its meaning without the trigger: "Phi-3" is written "Phi 3".
    /// </summary>
    public static string LlamaCppSafeName(string name, IReadOnlyList<string> tokens)
    {
        string[] phi3Tokens = ["</s>", "<unk>", "<s>", "<|endoftext|>"];
        if (phi3Tokens.All(tokens.Contains)) return name;
        return System.Text.RegularExpressions.Regex.Replace(name, "(phi)-?3", m => m.Groups[1].Value + " 3",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);
    }

    /// <summary>The weights under llama.cpp's names, each layer widened by its plan's zero heads and channels.</summary>
    static void AddTensors(GgufWriter w, LlamaForCausalLM model, GgufLayout layout, GgufTensorType type)
    {
        var c = model.Config;
        var weights = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        Tensor Weight(string key) => weights.TryGetValue(key, out var t) ? t
            : throw new InvalidOperationException($"model has no parameter {key}");
        // A block the layer does not have is all zero; the norm in front of it is ones (any finite weights keep its output 0).
        Tensor? Stored(string key) => weights.GetValueOrDefault(key);
        Tensor Norm(string key, int size) => Stored(key) ?? ones(size);
        void Add(string gguf, long[] shape, Func<Tensor> source, bool matrix = true) =>
            w.AddTensor(gguf, shape, matrix ? type : GgufTensorType.F32, () =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                return source().detach().to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
            });

        long hidden = c.HiddenSize, hd = c.HeadDim;
        Add("token_embd.weight", [c.VocabSize, hidden], () => Weight("model.embed_tokens.weight"));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var plan = layout.Layers[i];
            string hf = $"model.layers.{i}.", blk = $"blk.{i}.";
            if (plan.HasAttentionTensors)
            {
                long q = plan.Heads * hd, kv = plan.KvHeads * hd;
                Add(blk + "attn_norm.weight", [hidden], () => Norm(hf + "input_layernorm.weight", c.HiddenSize), matrix: false);
                Tensor Query() => PermutedForRope(Widen(Stored(hf + "self_attn.q_proj.weight"), q, hidden), plan.Heads, layout);
                Tensor Key() => PermutedForRope(Widen(Stored(hf + "self_attn.k_proj.weight"), kv, hidden), plan.KvHeads, layout);
                Tensor Value() => Widen(Stored(hf + "self_attn.v_proj.weight"), kv, hidden);
                // The biases move with their rows: widened with zeros (a zero head must have no bias, or its keys and
                // values would not be zero) and permuted as the q/k rows are.
                Tensor QueryBias() => PermutedForRope(Widen(Stored(hf + "self_attn.q_proj.bias"), q), plan.Heads, layout);
                Tensor KeyBias() => PermutedForRope(Widen(Stored(hf + "self_attn.k_proj.bias"), kv), plan.KvHeads, layout);
                Tensor ValueBias() => Widen(Stored(hf + "self_attn.v_proj.bias"), kv);
                if (layout.FusedQkv)
                    Add(blk + "attn_qkv.weight", [q + 2 * kv, hidden], () => cat([Query(), Key(), Value()], 0));
                else
                {
                    Add(blk + "attn_q.weight", [q, hidden], Query);
                    Add(blk + "attn_k.weight", [kv, hidden], Key);
                    Add(blk + "attn_v.weight", [kv, hidden], Value);
                }
                if (layout.QkvBias)
                {
                    Add(blk + "attn_q.bias", [q], QueryBias, matrix: false);
                    Add(blk + "attn_k.bias", [kv], KeyBias, matrix: false);
                    Add(blk + "attn_v.bias", [kv], ValueBias, matrix: false);
                }
                if (layout.QkNorm)
                {
                    Add(blk + "attn_q_norm.weight", [hd], () => Norm(hf + "self_attn.q_norm.weight", c.HeadDim), matrix: false);
                    Add(blk + "attn_k_norm.weight", [hd], () => Norm(hf + "self_attn.k_norm.weight", c.HeadDim), matrix: false);
                }
                Add(blk + "attn_output.weight", [hidden, q], () => Widen(Stored(hf + "self_attn.o_proj.weight"), hidden, q));
            }
            if (plan.HasFfnTensors)
            {
                long ffn = plan.Ffn;
                Add(blk + "ffn_norm.weight", [hidden], () => Norm(hf + "post_attention_layernorm.weight", c.HiddenSize), matrix: false);
                Tensor Gate() => Widen(Stored(hf + "mlp.gate_proj.weight"), ffn, hidden);
                Tensor Up() => Widen(Stored(hf + "mlp.up_proj.weight"), ffn, hidden);
                // Phi-3's ffn_up is gate_up_proj as stored: gate rows first (llama.cpp's SWIGLU applies SiLU to the first half).
                if (layout.FusedGateUp)
                    Add(blk + "ffn_up.weight", [2 * ffn, hidden], () => cat([Gate(), Up()], 0));
                else
                {
                    Add(blk + "ffn_gate.weight", [ffn, hidden], Gate);
                    Add(blk + "ffn_up.weight", [ffn, hidden], Up);
                }
                Add(blk + "ffn_down.weight", [hidden, ffn], () => Widen(Stored(hf + "mlp.down_proj.weight"), hidden, ffn));
            }
        }
        Add("output_norm.weight", [hidden], () => Weight("model.norm.weight"), matrix: false);
        // Tied embeddings: no output.weight; llama.cpp then uses token_embd for the output projection.
        if (!c.TieWordEmbeddings) Add("output.weight", [c.VocabSize, hidden], () => Weight("lm_head.weight"));
        if (layout.RopeFrequencyTensor && c.RopeScaling is { Type: "llama3" })
            w.AddTensor("rope_freqs.weight", [c.HeadDim / 2], GgufTensorType.F32, () => RopeFrequencyFactors(c));
    }

    /// <summary>
    /// <paramref name="weight"/> (a matrix or a bias) at the start of every dimension of a zero tensor of
    /// <paramref name="shape"/>: the zero heads (rows and their biases, or o_proj columns) and zero FFN channels a
    /// layer plan adds; all zero for a block the layer does not have.
    /// </summary>
    static Tensor Widen(Tensor? weight, params long[] shape)
    {
        if (weight is not null && weight.shape.SequenceEqual(shape)) return weight;
        var widened = zeros(shape, dtype: weight?.dtype ?? ScalarType.Float32, device: weight?.device ?? CPU);
        if (weight is not null)
        {
            var region = widened;
            for (int d = 0; d < shape.Length; d++) region = region.narrow(d, 0, weight.shape[d]);
            region.copy_(weight);
        }
        return widened;
    }

    static Tensor PermutedForRope(Tensor weight, int heads, GgufLayout layout) => layout.RotaryPermuted ? RotaryPermute(weight, heads) : weight;

    /// <summary>
    /// convert_hf_to_gguf.py's permute: within each head, rows [first half; second half] (Hugging Face's rotate-half
    /// pairs i and i + d/2) become interleaved (llama.cpp's NORM RoPE pairs 2i and 2i+1). A bias (one dimension) is
    /// permuted as the rows it belongs to.
    /// </summary>
    public static Tensor RotaryPermute(Tensor weight, int heads)
    {
        long rows = weight.shape[0];
        return weight.reshape(heads, 2, rows / heads / 2, -1).transpose(1, 2).reshape(weight.shape);
    }

    /// <summary>llama.cpp divides each RoPE frequency by its factor: original / scaled (LLaMA 3.1 rope_scaling).</summary>
    static float[] RopeFrequencyFactors(ModelConfig c)
    {
        var scaled = Rotary.InverseFrequencies(c);
        var original = Rotary.InverseFrequencies(c with { RopeScaling = null });
        return original.Zip(scaled, (o, s) => (float)(o / s)).ToArray();
    }

    /// <summary>
    /// Refuses, in one line, a model no layout computes exactly. Depends only on the family and its settings, not on
    /// the layer shapes, so it runs on the base model before any pruning (prune --format gguf).
    /// </summary>
    public static void CheckExpressible(ModelConfig c)
    {
        // Qwen2's q/k/v biases are written (qwen2, llama, deci); llama.cpp's qwen2 has no o_proj or MLP bias tensors.
        if (c.ModelType == "qwen2" && (c.OutputBias || c.MlpBias))
            throw new UserError("GGUF export: qwen2 with an o_proj or MLP bias (mlp_bias): llama.cpp's qwen2 architecture has q/k/v biases only");
        if (c.ModelType != "qwen2" && (c.QkvBias || c.OutputBias || c.MlpBias))
            throw new UserError($"GGUF export: {c.ModelType} with projection biases (attention_bias, mlp_bias): NasPrune writes biases for qwen2's q/k/v only");
        // Every architecture written gates its MLP with SiLU (swish is the same function).
        if (c.HiddenAct is not ("silu" or "swish"))
            throw new UserError($"GGUF export: hidden_act {c.HiddenAct}: llama.cpp's llama, deci, qwen3, openelm, phi3 and qwen2 architectures compute SiLU-gated MLPs only");
        if (c.ModelType == "qwen3" && c.RopeScaling is { Type: "llama3" })
            throw new UserError("GGUF export: qwen3 with llama3 RoPE scaling: llama.cpp's qwen3 and openelm architectures read no RoPE frequency factors");
        if (c.HeadDim % 2 != 0)
            throw new UserError($"GGUF export: head_dim {c.HeadDim} is odd, RoPE needs pairs");
    }
}
