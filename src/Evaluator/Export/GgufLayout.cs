using NasPrune.Common;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// The llama.cpp architecture a model is written as and how its tensors are laid out. Every choice computes exactly
/// NasPrune's function (checked against the llama.cpp LLamaSharp 0.30.0 bundles, GgufExportTests and
/// GgufFamilyExportTests); where an architecture cannot hold a shape, another one that can is taken, or the layers are
/// padded with zero heads and channels (<see cref="GgufLayerPlan"/>):
/// <list type="bullet">
/// <item>LLaMA, Mistral: <c>llama</c> when every layer is complete and alike, else <c>deci</c> (per-layer counts).</item>
/// <item>Phi-3: its own <c>phi3</c> (fused <c>attn_qkv</c>, gate and up fused in <c>ffn_up</c>) when every layer
/// keeps all heads and the same FFN width: llama.cpp's phi3 fixes the query width at the hidden size and reads one
/// FFN length. Any other Phi-3 as <c>llama</c>/<c>deci</c>: with q/k/v and gate/up split, full rotary and no biases,
/// Phi-3 computes what LLaMA computes.</item>
/// <item>Qwen3: <c>qwen3</c> when every layer is complete and alike (its tensors take layer 0's counts). Per-layer
/// shapes with tied embeddings as <c>openelm</c>, which has per-layer counts and the same per-head q/k RMSNorm,
/// NEOX RoPE and SiLU MLP, but always ties the output to the embeddings. Untied per-layer Qwen3 as <c>qwen3</c>
/// with every layer padded to the widest layer's heads and channels: exact, but not smaller for narrower layers.</item>
/// <item>Qwen2: <c>qwen2</c> (q/k/v biases, NEOX RoPE) when every layer is complete and alike with a query width
/// (heads × head_dim) equal to the hidden size: llama.cpp's qwen2 reads attn_q and attn_output at the hidden size and
/// takes layer 0's shape for all layers. Any other Qwen2 as <c>llama</c>/<c>deci</c> with the q/k/v biases, which
/// both add where present (the q bias at each layer's own query width), q/k rows and biases permuted for their NORM
/// RoPE: exact and smaller, no padding beyond deci's stand-ins.</item>
/// </list>
/// </summary>
public sealed record GgufLayout(
    string Arch,
    string Why,
    IReadOnlyList<GgufLayerPlan> Layers,
    bool PerLayerCounts,
    bool RotaryPermuted,
    bool FusedQkv,
    bool FusedGateUp,
    bool QkNorm,
    string? Note = null,
    bool QkvBias = false)
{
    /// <summary>Architectures with a RoPE frequency-factor tensor NasPrune writes for LLaMA 3.1's scaling.</summary>
    public bool RopeFrequencyTensor => Arch is "llama" or "deci";

    /// <summary>True when some layer is written wider than it is.</summary>
    public bool HasZeroWeights => Layers.Any(p => p.ZeroHeads > 0 || p.ZeroChannels > 0);

    /// <summary>True when every layer has one shape (no per-layer pruning, no missing blocks).</summary>
    public static bool IsUniform(ModelConfig c) =>
        c.Layers.All(l => l.HasAttention && l.HasMlp) && c.Layers.Distinct().Count() == 1;

    public static GgufLayout For(ModelConfig c)
    {
        bool uniform = IsUniform(c);
        var layout = c.ModelType switch
        {
            "qwen3" when uniform => Exact(c, "qwen3", "every layer complete and alike", qkNorm: true),
            "qwen3" when c.TieWordEmbeddings => PerLayer(c, "openelm",
                "per-layer head counts and FFN lengths with Qwen3's per-head q/k RMSNorm; llama.cpp's qwen3 reads one shape for all layers",
                GgufLayerPlan.EveryBlock, rotaryPermuted: false, fusedQkv: true, qkNorm: true),
            "qwen3" => PaddedQwen3(c),
            "qwen2" when uniform && HasHiddenQueryWidth(c) && c.RopeScaling is not { Type: "llama3" } =>
                Exact(c, "qwen2", "every layer complete and alike") with { QkvBias = true },
            "qwen2" => Llama(c, uniform, Qwen2AsLlamaWhy(c, uniform)) with { QkvBias = true },
            "phi3" when uniform && KeepsEveryHead(c) && c.RopeScaling is not { Type: "llama3" } =>
                Exact(c, "phi3", "every layer complete and alike", fusedQkv: true, fusedGateUp: true),
            "phi3" => Llama(c, uniform, "Phi-3 with split q/k/v and gate/up computes what LLaMA computes; llama.cpp's phi3 " +
                                        "fixes the query width at the hidden size and reads one FFN length"),
            _ => Llama(c, uniform, null),
        };
        // A zero head's q/k RMSNorm is 0 · 1/sqrt(0 + eps): NaN without an epsilon, and the NaN would reach the output.
        if (layout.QkNorm && c.RmsNormEps <= 0 && layout.Layers.Any(p => p.ZeroHeads > 0))
            throw new UserError($"GGUF export: rms_norm_eps is {c.RmsNormEps}, so the zero heads llama.cpp's {layout.Arch} needs here would normalize to NaN; uniform pruning exports");
        return layout with { Note = SlidingWindowNote(c) };
    }

    /// <summary>A one-line description for the export log.</summary>
    public string Summary
    {
        get
        {
            string zeros = HasZeroWeights
                ? $"; all-zero heads/FFN channels (exactly no contribution) in layers {string.Join(", ", ZeroBlocks().Select(z => z.Layer))}"
                : "";
            return $"llama.cpp architecture {Arch} ({Why}){zeros}{(Note is null ? "" : $"; {Note}")}";
        }
    }

    /// <summary>Each layer written wider than it is, with what was added, e.g. "3 (+2 zero heads, +1 zero FFN channel)".</summary>
    public IEnumerable<(int Layer, string Text)> ZeroBlocks()
    {
        for (int i = 0; i < Layers.Count; i++)
        {
            var p = Layers[i];
            var parts = new List<string>();
            if (p.ZeroHeads > 0) parts.Add($"+{p.ZeroHeads} zero {(p.ZeroHeads == 1 ? "head" : "heads")}");
            if (p.ZeroChannels > 0) parts.Add($"+{p.ZeroChannels} zero FFN {(p.ZeroChannels == 1 ? "channel" : "channels")}");
            if (parts.Count > 0) yield return (i, $"{i} ({string.Join(", ", parts)})");
        }
    }

    /// <summary>
    /// None of the architectures written applies a sliding window (llama.cpp's phi3 reads one and switches it off), so
    /// where NasPrune slides one the two agree only while the context fits in the window. Said, not refused: it is how
    /// llama.cpp runs these families (Phi-3-mini-4k's window is 2047 of 4096 positions).
    /// </summary>
    static string? SlidingWindowNote(ModelConfig c) => c.SlidingWindow is { } w && w.Size < c.MaxPositionEmbeddings
        ? $"llama.cpp attends to the whole context where this model slides a {w.Size}-token window" +
          (w.FirstLayer > 0 ? $" from layer {w.FirstLayer} on" : "") + $": the two agree up to {w.Size} tokens of context"
        : null;

    /// <summary>llama.cpp's qwen2 reads attn_q and attn_output at [hidden, hidden] (a narrower query is refused at load).</summary>
    static bool HasHiddenQueryWidth(ModelConfig c) => (long)c.Layers[0].Heads * c.HeadDim == c.HiddenSize;

    static string Qwen2AsLlamaWhy(ModelConfig c, bool uniform) =>
        (!uniform ? "llama.cpp's qwen2 reads one shape for all layers"
         : !HasHiddenQueryWidth(c) ? $"llama.cpp's qwen2 fixes the query width at the hidden size ({c.HiddenSize}), this model's is {c.Layers[0].Heads * c.HeadDim}"
         : "llama.cpp's qwen2 reads no RoPE frequency factors (llama3 scaling)") +
        "; with its q/k/v biases, permuted with the q/k rows for NORM RoPE, LLaMA computes what Qwen2 computes";

    static bool KeepsEveryHead(ModelConfig c) =>
        c.Layers[0].Heads == c.NumAttentionHeads && c.NumAttentionHeads * c.HeadDim == c.HiddenSize;

    static GgufLayout Exact(ModelConfig c, string arch, string why, bool fusedQkv = false, bool fusedGateUp = false, bool qkNorm = false) =>
        new(arch, why, Plans(c, GgufLayerPlan.Exact), PerLayerCounts: false, RotaryPermuted: false, fusedQkv, fusedGateUp, qkNorm);

    static GgufLayout PerLayer(ModelConfig c, string arch, string why, Func<ModelConfig, int, GgufLayerPlan> plan,
        bool rotaryPermuted, bool fusedQkv = false, bool qkNorm = false) =>
        new(arch, why, Plans(c, plan), PerLayerCounts: true, rotaryPermuted, fusedQkv, FusedGateUp: false, qkNorm);

    /// <summary>
    /// LLaMA's layouts: llama.cpp's NORM RoPE rotates adjacent pairs where Hugging Face rotates halves, so q/k rows are
    /// permuted (<see cref="GgufExport.RotaryPermute"/>).
    /// </summary>
    static GgufLayout Llama(ModelConfig c, bool uniform, string? because) => uniform
        ? new GgufLayout("llama", because ?? "every layer complete and alike", Plans(c, GgufLayerPlan.Exact),
            PerLayerCounts: false, RotaryPermuted: true, FusedQkv: false, FusedGateUp: false, QkNorm: false)
        : PerLayer(c, "deci", because ?? "per-layer head counts and FFN lengths", GgufLayerPlan.Deci, rotaryPermuted: true);

    static GgufLayout PaddedQwen3(ModelConfig c)
    {
        // At least one GQA group and one channel: qwen3 has no way to skip a block, and a zero-size tensor is refused.
        int heads = Math.Max(c.Layers.Max(l => l.HasAttention ? l.Heads : 0), c.GroupSize);
        int ffn = Math.Max(c.Layers.Max(l => l.HasMlp ? l.Ffn : 0), 1);
        var plans = Enumerable.Range(0, c.NumHiddenLayers).Select(i => GgufLayerPlan.PaddedTo(c, i, heads, ffn)).ToArray();
        return new GgufLayout("qwen3",
            $"llama.cpp's qwen3 reads one shape for all layers and openelm, which has per-layer shapes, ties the output to the " +
            $"embeddings: every layer padded to {heads} heads and {ffn} FFN channels, so the file is not smaller for the narrower layers",
            plans, PerLayerCounts: false, RotaryPermuted: false, FusedQkv: false, FusedGateUp: false, QkNorm: true);
    }

    static GgufLayerPlan[] Plans(ModelConfig c, Func<ModelConfig, int, GgufLayerPlan> plan) =>
        Enumerable.Range(0, c.NumHiddenLayers).Select(i => plan(c, i)).ToArray();
}
