using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// Per-structure activation statistics over the calibration tokens, from one forward pass without gradients at
/// the model's full stored shape: for every query head h the sum over tokens of ||o_h(t)|| (its attention output
/// before o_proj) and, on request, the Gram matrix Σ_t o_h(t) o_h(t)ᵀ; for every FFN channel c the sums of
/// |a_c(t)| and a_c(t)² of its activation a_c = silu(gate_c)·up_c; and every layer's block influence.
/// </summary>
internal sealed class ActivationStatistics
{
    /// <summary>Calibration tokens seen by every layer (all windows' positions).</summary>
    public long Tokens { get; private set; }
    public required double[][] HeadNormSums { get; init; }
    /// <summary>Per head, the d×d Gram matrix flattened row-major; empty arrays when not requested.</summary>
    public required double[][][] HeadGrams { get; init; }
    public required double[][] ChannelAbsSums { get; init; }
    public required double[][] ChannelSquareSums { get; init; }
    public double[] BlockInfluence { get; private set; } = [];

    public static ActivationStatistics Collect(LlamaForCausalLM model, CalibrationData data, int batchSize, bool headGrams)
    {
        var c = model.Config;
        var layers = model.Layers;
        var stats = new ActivationStatistics
        {
            HeadNormSums = layers.Select(l => new double[l.self_attn?.StoredHeads ?? 0]).ToArray(),
            HeadGrams = layers.Select(l => Enumerable.Range(0, l.self_attn?.StoredHeads ?? 0)
                .Select(_ => new double[headGrams ? c.HeadDim * c.HeadDim : 0]).ToArray()).ToArray(),
            ChannelAbsSums = layers.Select(l => new double[l.mlp?.StoredChannels ?? 0]).ToArray(),
            ChannelSquareSums = layers.Select(l => new double[l.mlp?.StoredChannels ?? 0]).ToArray(),
        };
        CalibrationPass.AtFullShape(model, () =>
        {
            using var influence = new BlockInfluence(model);
            try
            {
                for (int i = 0; i < layers.Count; i++)
                {
                    int layer = i;
                    if (layers[i].self_attn is { } attn)
                        attn.OnOutputProjectionInput = merged => stats.AddHeads(layer, merged, c.HeadDim, headGrams);
                    if (layers[i].mlp is { } mlp)
                        mlp.OnOutputProjectionInput = activation => stats.AddChannels(layer, activation);
                }
                using var _ = no_grad();
                CalibrationPass.ForEachBatch(model, data, batchSize, input =>
                {
                    // The decoder stack alone: the output projection's logits are not needed for activations.
                    model.model.call(input).Dispose();
                    stats.Tokens += input.numel();
                });
            }
            finally
            {
                foreach (var layer in layers)
                {
                    if (layer.self_attn is { } attn) attn.OnOutputProjectionInput = null;
                    if (layer.mlp is { } mlp) mlp.OnOutputProjectionInput = null;
                }
            }
            stats.BlockInfluence = influence.Scores();
            return 0;
        });
        return stats;
    }

    void AddHeads(int layer, Tensor merged, int headDim, bool gram)
    {
        using var scope = NewDisposeScope();
        int heads = HeadNormSums[layer].Length;
        var o = merged.detach().to_type(ScalarType.Float32).reshape(-1, heads, headDim); // [tokens, heads, d]
        Add(HeadNormSums[layer], CalibrationPass.ToDoubles((o * o).sum(2).sqrt().sum(dim: 0)));
        if (!gram) return;
        var perHead = o.transpose(0, 1); // [heads, tokens, d]
        var grams = CalibrationPass.ToDoubles(perHead.transpose(1, 2).bmm(perHead)); // [heads, d, d]
        int size = headDim * headDim;
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < size; j++) HeadGrams[layer][h][j] += grams[h * size + j];
    }

    void AddChannels(int layer, Tensor activation)
    {
        using var scope = NewDisposeScope();
        var a = activation.detach().to_type(ScalarType.Float32).reshape(-1, ChannelAbsSums[layer].Length); // [tokens, channels]
        Add(ChannelAbsSums[layer], CalibrationPass.ToDoubles(a.abs().sum(dim: 0)));
        Add(ChannelSquareSums[layer], CalibrationPass.ToDoubles((a * a).sum(dim: 0)));
    }

    static void Add(double[] into, double[] values)
    {
        for (int i = 0; i < into.Length; i++) into[i] += values[i];
    }
}
