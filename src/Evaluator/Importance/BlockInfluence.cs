using NasPrune.Evaluator.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// ShortGPT's block influence (Men et al. 2024) of every layer: the mean over calibration tokens of
/// 1 − cos(h_in, h_out), how much the layer turns the residual stream. A layer that barely changes its input's
/// direction is the cheapest to drop; a dropped or empty layer scores 0. Collected through each layer's
/// <see cref="LlamaDecoderLayer.ResidualHook"/> while it is installed (until Dispose).
/// </summary>
internal sealed class BlockInfluence : IDisposable
{
    readonly IReadOnlyList<LlamaDecoderLayer> layers;
    readonly double[] sums;
    readonly long[] tokens;

    public BlockInfluence(LlamaForCausalLM model)
    {
        layers = model.Layers;
        sums = new double[layers.Count];
        tokens = new long[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            int layer = i;
            layers[i].ResidualHook = (input, output) => Accumulate(layer, input, output);
        }
    }

    void Accumulate(int layer, Tensor input, Tensor output)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var cos = F.cosine_similarity(input.detach().to_type(ScalarType.Float32), output.detach().to_type(ScalarType.Float32), dim: -1);
        sums[layer] += cos.neg().PlusInPlace(KeptScalars.One).sum().to_type(ScalarType.Float64).item<double>();
        tokens[layer] += cos.numel();
    }

    public double[] Scores() => sums.Select((s, i) => tokens[i] > 0 ? s / tokens[i] : 0).ToArray();

    public void Dispose()
    {
        foreach (var layer in layers) layer.ResidualHook = null;
    }
}
