using NasPrune.Common;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// How one NasPrune layer is written into a GGUF file: the query-head, key/value-head and FFN counts llama.cpp reads
/// for it, each at least the layer's own (<see cref="Layer"/>). What is written beyond the layer's own is all zero and
/// adds exactly nothing: a zero head has zero q/k/v rows, zero q/k/v biases where the model has them (Qwen2) and zero
/// o_proj columns (its keys score 0, its values are 0, so its output is 0 whatever the softmax; q/k RMSNorm maps a
/// zero vector to zero as long as epsilon &gt; 0); a zero
/// FFN channel has zero gate/up rows and a zero down_proj column (SiLU(0) · 0 = 0). Zero heads follow the real ones
/// in whole GQA groups, so every real query head keeps its key/value head. The norm in front of an all-zero block is
/// written as ones: any finite weights keep the block's output zero.
/// </summary>
public sealed record GgufLayerPlan(LayerShape Layer, int Heads, int KvHeads, int Ffn)
{
    public bool HasAttentionTensors => Heads > 0;
    public bool HasFfnTensors => Ffn > 0;
    /// <summary>Query heads written with zero weights (stand-ins or padding).</summary>
    public int ZeroHeads => Heads - Layer.Heads;
    /// <summary>FFN channels written with zero weights.</summary>
    public int ZeroChannels => Ffn - Layer.Ffn;

    /// <summary>The layer as it is: for architectures with one shape per file, whose layers all have this one.</summary>
    public static GgufLayerPlan Exact(ModelConfig c, int index) =>
        new(c.Layers[index], c.Layers[index].Heads, c.Layers[index].KvHeads, c.Layers[index].Ffn);

    /// <summary>
    /// llama.cpp's <c>deci</c> (heterogeneous LLaMA, Nemotron-NAS), whose per-layer counts have meanings of their own:
    /// 0 heads skips attention; FFN length 0 skips the rest of the layer, the attention result included
    /// (<c>build_deci</c> continues the loop before the residual is kept); layer 0's head count fixes model-wide
    /// dimensions, so it cannot be 0; and FFN length 0 in the last layer aborts llama.cpp (the skipped layer takes
    /// the output-row selection with it, whose input is then never allocated: <c>GGML_ASSERT(buffer)</c>, seen with
    /// LLamaSharp 0.30.0). So: attention without MLP gets one zero FFN channel; layer 0 without attention one zero GQA
    /// group; a dropped layer is 0 heads and FFN length 0 (skipped entirely), except that a dropped last layer keeps
    /// one zero FFN channel.
    /// </summary>
    public static GgufLayerPlan Deci(ModelConfig c, int index)
    {
        var l = c.Layers[index];
        bool zeroGroup = index == 0 && !l.HasAttention;
        int heads = l.HasAttention ? l.Heads : zeroGroup ? c.GroupSize : 0;
        int kv = l.HasAttention ? l.KvHeads : zeroGroup ? 1 : 0;
        bool last = index == c.NumHiddenLayers - 1;
        int ffn = l.HasMlp ? l.Ffn : l.HasAttention || last ? 1 : 0;
        return new GgufLayerPlan(l, heads, kv, ffn);
    }

    /// <summary>
    /// An architecture that runs attention and FFN in every layer with per-layer counts and no way to skip either
    /// (llama.cpp's <c>openelm</c>; a count of 0 would be a zero-size tensor): a missing block is one zero GQA group or
    /// one zero FFN channel.
    /// </summary>
    public static GgufLayerPlan EveryBlock(ModelConfig c, int index)
    {
        var l = c.Layers[index];
        return l.HasAttention
            ? new GgufLayerPlan(l, l.Heads, l.KvHeads, l.HasMlp ? l.Ffn : 1)
            : new GgufLayerPlan(l, c.GroupSize, 1, l.HasMlp ? l.Ffn : 1);
    }

    /// <summary>The layer widened to <paramref name="heads"/> query heads (whole GQA groups) and <paramref name="ffn"/> channels.</summary>
    public static GgufLayerPlan PaddedTo(ModelConfig c, int index, int heads, int ffn) =>
        new(c.Layers[index], heads, heads / c.GroupSize, ffn);
}
