using NasPrune.Common;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// How one NasPrune layer is written for llama.cpp's <c>deci</c> architecture, whose per-layer counts have
/// meanings of their own: 0 heads skips attention; 0 FFN channels skips the rest of the layer, the attention
/// result included (llama.cpp <c>build_deci</c> continues the loop before the residual is kept); and layer 0's head
/// count fixes model-wide dimensions, so it cannot be 0. Each case is written as an exact equivalent:
/// <list type="bullet">
/// <item>attention without MLP: one FFN channel whose weights are all zero (its output is exactly 0);</item>
/// <item>layer 0 without attention: one GQA group of heads whose q/k/v/o weights are all zero (output exactly 0);</item>
/// <item>a layer with neither: 0 heads and 0 channels, which llama.cpp skips entirely (layer 0: the zero group; the
/// last layer: one zero FFN channel, as a skipped last layer aborts llama.cpp).</item>
/// </list>
/// </summary>
public sealed record GgufLayerPlan(int Heads, int KvHeads, int Ffn, bool ZeroAttention, bool ZeroFfn)
{
    public static GgufLayerPlan For(ModelConfig c, int index)
    {
        var l = c.Layers[index];
        bool zeroAttention = index == 0 && !l.HasAttention;
        int heads = l.HasAttention ? l.Heads : zeroAttention ? c.GroupSize : 0;
        int kv = l.HasAttention ? l.KvHeads : zeroAttention ? 1 : 0;
        // Only real attention needs the one-channel MLP to survive; a zero attention group may be skipped with it. The
        // last layer is never skipped: FFN length 0 there takes llama.cpp's output-row selection out of the graph with
        // the layer, and llama.cpp aborts (GGML_ASSERT(buffer), LLamaSharp 0.30.0).
        bool zeroFfn = !l.HasMlp && (l.HasAttention || index == c.NumHiddenLayers - 1);
        int ffn = l.HasMlp ? l.Ffn : zeroFfn ? 1 : 0;
        return new GgufLayerPlan(heads, kv, ffn, zeroAttention, zeroFfn);
    }

    public bool HasAttentionTensors => Heads > 0;
    public bool HasFfnTensors => Ffn > 0;
}
