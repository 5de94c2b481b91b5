using System.Text.Json;
using System.Text.Json.Nodes;
using static NasPrune.Common.ConfigFields;

namespace NasPrune.Common;

/// <summary>
/// A LLaMA-family model's configuration, read from and written to a Hugging Face <c>config.json</c>.
/// Supported <c>model_type</c>s share LLaMA's block (RMSNorm, RoPE, gated MLP, GQA): llama, mistral (sliding-window
/// attention), qwen2 (q/k/v biases, optional sliding window), qwen3 (per-head RMSNorm of queries and keys,
/// <c>q_norm</c>/<c>k_norm</c>, before RoPE) and phi3 (q/k/v and gate/up fused into one matrix each in the
/// checkpoint; the model holds them split, the checkpoint reader and writer split and re-fuse them). Every field that changes the computation is either
/// computed or refused when read: the model computed is the model config.json describes. Per-layer shapes come from
/// <c>block_configs</c> when present (heterogeneous, pruned models), else every layer has the uniform shape of the
/// standard fields.
/// </summary>
public sealed record ModelConfig
{
    public static readonly string[] SupportedModelTypes = ["llama", "mistral", "qwen2", "qwen3", "phi3"];

    public string ModelType { get; init; } = "llama";
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>Hugging Face's <c>hidden_act</c>: the MLP computes down(act(gate(x)) · up(x)).</summary>
    public string HiddenAct { get; init; } = HiddenActivation.Default;
    /// <summary>Sliding-window attention (Mistral, Qwen2); null where every layer sees the whole causal prefix.</summary>
    public SlidingWindow? SlidingWindow { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (Qwen2 always; LLaMA's <c>attention_bias</c> also puts one on o_proj).</summary>
    public bool QkvBias { get; init; }
    public bool OutputBias { get; init; }
    public bool MlpBias { get; init; }
    /// <summary>Qwen3: RMSNorm over head_dim of every query and key head (one weight shared by all heads), before RoPE.</summary>
    public bool QkNorm { get; init; }
    /// <summary>Phi-3 stores q/k/v as one <c>qkv_proj</c> and gate/up as one <c>gate_up_proj</c> (see <see cref="FusedProjections"/>).</summary>
    public bool FusedProjections => ModelType == "phi3";
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public string TorchDtype { get; init; } = "float32";
    /// <summary>Per-layer shapes; always <see cref="NumHiddenLayers"/> long.</summary>
    public IReadOnlyList<LayerShape> Layers { get; init; } = [];

    public int GroupSize => NumAttentionHeads / NumKeyValueHeads;
    /// <summary>How far back layer <paramref name="layer"/> attends (i − j &lt; window), or null for the whole prefix.</summary>
    public int? AttentionWindow(int layer) => SlidingWindow is { } w && layer >= w.FirstLayer ? w.Size : null;
    public bool IsHeterogeneous => Layers.Any(l => l != UniformLayer);
    public LayerShape UniformLayer => new(true, NumAttentionHeads, NumKeyValueHeads, IntermediateSize);

    /// <summary>A uniform LLaMA configuration (used by train-base and tests).</summary>
    public static ModelConfig Uniform(int vocab, int hidden, int layers, int heads, int kvHeads, int ffn,
        int maxPositions, bool tieEmbeddings = true, double ropeTheta = 10000, double rmsEps = 1e-5,
        string modelType = "llama", bool qkvBias = false, int? headDim = null)
    {
        var c = new ModelConfig
        {
            ModelType = modelType, VocabSize = vocab, HiddenSize = hidden, IntermediateSize = ffn,
            NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = headDim ?? hidden / heads,
            MaxPositionEmbeddings = maxPositions, RopeTheta = ropeTheta, RmsNormEps = rmsEps,
            TieWordEmbeddings = tieEmbeddings, QkvBias = qkvBias, QkNorm = modelType == "qwen3",
        };
        return c with { Layers = Enumerable.Repeat(c.UniformLayer, layers).ToArray() };
    }

    /// <summary>The same model with other per-layer shapes (validated against the base dimensions).</summary>
    public ModelConfig WithLayers(IReadOnlyList<LayerShape> layers)
    {
        var c = this with { Layers = layers.ToArray() };
        c.Validate("architecture");
        return c;
    }

    // ---- parameter counts: exact, from the shapes (the tests compare them with real tensor sizes) ----

    public long AttentionParams(LayerShape l)
    {
        if (!l.HasAttention) return 0;
        long q = (long)l.Heads * HeadDim, kv = (long)l.KvHeads * HeadDim;
        long p = HiddenSize * (q + 2 * kv) + q * HiddenSize + HiddenSize; // q,k,v,o + input_layernorm
        if (QkvBias) p += q + 2 * kv;
        if (OutputBias) p += HiddenSize;
        if (QkNorm) p += 2L * HeadDim; // q_norm, k_norm: one head_dim weight each, shared by the heads
        return p;
    }

    public long MlpParams(LayerShape l)
    {
        if (!l.HasMlp) return 0;
        long p = 3L * HiddenSize * l.Ffn + HiddenSize; // gate, up, down + post_attention_layernorm
        if (MlpBias) p += 2L * l.Ffn + HiddenSize;
        return p;
    }

    public long LayerParams(LayerShape l) => AttentionParams(l) + MlpParams(l);

    public long EmbeddingParams => (long)VocabSize * HiddenSize * (TieWordEmbeddings ? 1 : 2) + HiddenSize; // + final norm

    public long TotalParams => EmbeddingParams + Layers.Sum(LayerParams);

    /// <summary>
    /// Forward FLOPs per token at context length <paramref name="seqLen"/>: 2 per multiply-add of every
    /// weight matrix (lm_head included, embeddings lookup excluded) plus the attention scores and weighted sum
    /// over the causal average of (seqLen+1)/2 keys. Norms, RoPE and activations are ignored (&lt;1%).
    /// </summary>
    public double ForwardFlopsPerToken(int seqLen)
    {
        double flops = 2.0 * VocabSize * HiddenSize;
        foreach (var l in Layers)
        {
            if (l.HasAttention)
            {
                double q = (double)l.Heads * HeadDim, kv = (double)l.KvHeads * HeadDim;
                flops += 2.0 * HiddenSize * (2 * q + 2 * kv);
                flops += 2.0 * 2.0 * q * (seqLen + 1) / 2.0;
            }
            if (l.HasMlp) flops += 2.0 * 3.0 * HiddenSize * l.Ffn;
        }
        return flops;
    }

    // ---- config.json ----

    public static ModelConfig Load(string configPath)
    {
        if (!File.Exists(configPath)) throw new UserError($"{configPath}: file not found");
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new UserError($"{configPath}: not a JSON object"); }
        catch (JsonException e) { throw new UserError($"{configPath}: malformed JSON ({e.Message})"); }
        return FromJson(root, configPath);
    }

    public static ModelConfig FromJson(JsonObject j, string source)
    {
        string modelType = Str(j, "model_type", source) ?? throw Missing(source, "model_type");
        if (!SupportedModelTypes.Contains(modelType))
            throw new UserError($"{source}: model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
        UnimplementedConfigFields.Check(j, source);
        int hidden = Int(j, "hidden_size", source, min: 1) ?? throw Missing(source, "hidden_size");
        int heads = Int(j, "num_attention_heads", source, min: 1) ?? throw Missing(source, "num_attention_heads");
        int layers = Int(j, "num_hidden_layers", source, min: 1) ?? throw Missing(source, "num_hidden_layers");
        int ffn = Int(j, "intermediate_size", source, min: 1) ?? throw Missing(source, "intermediate_size");
        int vocab = Int(j, "vocab_size", source, min: 1) ?? throw Missing(source, "vocab_size");
        int kv = Int(j, "num_key_value_heads", source, min: 1) ?? heads;
        int headDim = Int(j, "head_dim", source, min: 1) ?? DerivedHeadDim(hidden, heads, source);
        // Accepted without effect on the result: pretraining_tp > 1 computes the same products in slices, and
        // attention_dropout is off at evaluation. Their types are still checked.
        Int(j, "pretraining_tp", source, min: 1);
        Dbl(j, "attention_dropout", source);
        var (scaling, theta) = RopeScaling.Read(j, source);

        bool attentionBias = Bool(j, "attention_bias", source) ?? false;
        if (modelType == "phi3" && (attentionBias || Bool(j, "mlp_bias", source) == true))
            throw new UserError($"{source}: phi3 with attention_bias or mlp_bias: Phi3ForCausalLM has no projection biases, so NasPrune does not compute them");
        // Phi3Config's dropouts are off at evaluation; read for their type only.
        Dbl(j, "resid_pdrop", source);
        Dbl(j, "embd_pdrop", source);
        var c = new ModelConfig
        {
            ModelType = modelType, VocabSize = vocab, HiddenSize = hidden, IntermediateSize = ffn,
            NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kv, HeadDim = headDim,
            MaxPositionEmbeddings = Int(j, "max_position_embeddings", source, min: 1) ?? 2048,
            RmsNormEps = Dbl(j, "rms_norm_eps", source) ?? 1e-6,
            RopeTheta = theta,
            RopeScaling = scaling,
            HiddenAct = HiddenActivation.Check(Str(j, "hidden_act", source) ?? HiddenActivation.Default, source),
            SlidingWindow = SlidingWindow.Read(j, modelType, layers, source),
            TieWordEmbeddings = Bool(j, "tie_word_embeddings", source) ?? false, // LlamaConfig and Qwen2Config default to untied
            QkvBias = modelType == "qwen2" || attentionBias,
            OutputBias = modelType != "qwen2" && attentionBias,
            MlpBias = Bool(j, "mlp_bias", source) ?? false,
            QkNorm = modelType == "qwen3",
            BosTokenId = FirstInt(j["bos_token_id"]),
            EosTokenId = FirstInt(j["eos_token_id"]),
            TorchDtype = Str(j, "torch_dtype", source) ?? "float32",
        };
        var shapes = j["block_configs"] is JsonArray blocks
            ? ReadBlockConfigs(blocks, c, source)
            : Enumerable.Repeat(c.UniformLayer, layers).ToArray();
        c = c with { Layers = shapes };
        c.Validate(source);
        return c;
    }

    /// <summary>Hugging Face's head_dim when config.json omits it: hidden_size / num_attention_heads, which must divide.</summary>
    static int DerivedHeadDim(int hidden, int heads, string source) => hidden % heads == 0
        ? hidden / heads
        : throw new UserError($"{source}: field 'hidden_size' {hidden} is not a multiple of num_attention_heads {heads}, and head_dim is not given");

    /// <summary>
    /// Heterogeneous layers follow the per-layer <c>block_configs</c> convention of heterogeneous LLaMA
    /// derivatives (DeciLM / Nemotron-NAS): each entry has an <c>attention</c> and an <c>ffn</c> object with
    /// <c>no_op</c>. NasPrune records absolute sizes: <c>attention.num_attention_heads</c>,
    /// <c>attention.num_key_value_heads</c> and <c>ffn.intermediate_size</c>; DeciLM's <c>n_heads_in_group</c>
    /// is also written so its readers see the GQA grouping.
    /// </summary>
    static LayerShape[] ReadBlockConfigs(JsonArray blocks, ModelConfig c, string source)
    {
        if (blocks.Count != c.NumHiddenLayers)
            throw new UserError($"{source}: block_configs has {blocks.Count} entries but num_hidden_layers is {c.NumHiddenLayers}");
        var shapes = new LayerShape[blocks.Count];
        for (int i = 0; i < blocks.Count; i++)
        {
            string where = $"{source}: block_configs[{i}]";
            if (blocks[i] is not JsonObject b) throw new UserError($"{where} is not an object");
            var attn = b["attention"] as JsonObject ?? throw new UserError($"{where}.attention missing");
            var ffn = b["ffn"] as JsonObject ?? throw new UserError($"{where}.ffn missing");
            bool attnNoOp = Bool(attn, "no_op", where) ?? false, ffnNoOp = Bool(ffn, "no_op", where) ?? false;
            int heads = attnNoOp ? 0 : Int(attn, "num_attention_heads", where) ?? c.NumAttentionHeads;
            int kv = attnNoOp ? 0 : Int(attn, "num_key_value_heads", where)
                ?? (Int(attn, "n_heads_in_group", where) is int g ? heads / g : c.NumKeyValueHeads);
            int width = ffnNoOp ? 0 : Int(ffn, "intermediate_size", where) ?? c.IntermediateSize;
            bool keep = heads > 0 || width > 0;
            shapes[i] = keep ? new LayerShape(true, heads, kv, width) : LayerShape.Dropped;
        }
        return shapes;
    }

    /// <summary>Checks the dimensions and the per-layer shapes against them; throws a UserError naming the field or the layer.</summary>
    public void Validate(string source)
    {
        if (HiddenSize <= 0 || NumAttentionHeads <= 0 || NumKeyValueHeads <= 0 || VocabSize <= 0 || NumHiddenLayers <= 0)
            throw new UserError($"{source}: hidden_size, num_attention_heads, num_key_value_heads, vocab_size and num_hidden_layers must be positive");
        if (HeadDim <= 0 || HeadDim % 2 != 0)
            throw new UserError($"{source}: field 'head_dim' is {HeadDim}; rotary embeddings rotate pairs, so it must be positive and even");
        if (RmsNormEps < 0) throw new UserError($"{source}: field 'rms_norm_eps' is {RmsNormEps}; it must not be negative");
        HiddenActivation.Check(HiddenAct, source);
        if (SlidingWindow is { Size: < 1 } or { FirstLayer: < 0 })
            throw new UserError($"{source}: sliding window {SlidingWindow.Size} from layer {SlidingWindow.FirstLayer} needs a size ≥ 1 and a layer ≥ 0");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new UserError($"{source}: num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {NumKeyValueHeads}");
        if (Layers.Count != NumHiddenLayers)
            throw new UserError($"{source}: {Layers.Count} layer shapes for {NumHiddenLayers} layers");
        for (int i = 0; i < Layers.Count; i++)
        {
            var l = Layers[i];
            string where = $"{source}: layer {i}";
            if (!l.Keep) { if (l.Heads != 0 || l.Ffn != 0) throw new UserError($"{where} is dropped but has heads or FFN channels"); continue; }
            if (l.Heads < 0 || l.Heads > NumAttentionHeads) throw new UserError($"{where}: {l.Heads} heads, the base model has {NumAttentionHeads}");
            if (l.Ffn < 0 || l.Ffn > IntermediateSize) throw new UserError($"{where}: {l.Ffn} FFN channels, the base model has {IntermediateSize}");
            if (l.Heads > 0 && (l.KvHeads <= 0 || l.Heads % l.KvHeads != 0 || l.Heads / l.KvHeads != GroupSize))
                throw new UserError($"{where}: {l.Heads} query heads and {l.KvHeads} key/value heads split the GQA groups of {GroupSize} heads");
        }
    }

    public JsonObject ToJson()
    {
        var j = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType switch
            {
                "qwen2" => "Qwen2ForCausalLM",
                "qwen3" => "Qwen3ForCausalLM",
                "phi3" => "Phi3ForCausalLM",
                "mistral" => "MistralForCausalLM",
                _ => "LlamaForCausalLM",
            }),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["hidden_act"] = HiddenAct,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["attention_bias"] = ModelType == "qwen2" ? false : QkvBias,
            ["mlp_bias"] = MlpBias,
            ["torch_dtype"] = TorchDtype,
        };
        if (BosTokenId is int bos) j["bos_token_id"] = bos;
        if (EosTokenId is int eos) j["eos_token_id"] = eos;
        if (RopeScaling is { } rs) j["rope_scaling"] = rs.ToJson();
        SlidingWindow.Write(j, ModelType, SlidingWindow);
        if (IsHeterogeneous)
        {
            var blocks = new JsonArray();
            foreach (var l in Layers)
                blocks.Add(new JsonObject
                {
                    ["attention"] = new JsonObject
                    {
                        ["no_op"] = !l.HasAttention,
                        ["num_attention_heads"] = l.Heads,
                        ["num_key_value_heads"] = l.KvHeads,
                        ["n_heads_in_group"] = GroupSize,
                    },
                    ["ffn"] = new JsonObject { ["no_op"] = !l.HasMlp, ["intermediate_size"] = l.Ffn },
                });
            j["block_configs"] = blocks;
        }
        return j;
    }

    public void Save(string configPath) =>
        AtomicFile.WriteAllText(configPath, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    static UserError Missing(string source, string field) => new($"{source}: required field '{field}' missing");

    static int? FirstInt(JsonNode? n) => n switch
    {
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        JsonArray { Count: > 0 } a when a[0] is JsonValue v0 && v0.TryGetValue<int>(out var i0) => i0,
        _ => null,
    };
}
