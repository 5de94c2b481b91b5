using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// Weight magnitude, no data: a structure's score is the L2 norm of its coupled weights (see
/// <see cref="CoupledWeights"/>: a head's q rows and o columns plus 1/group of its KV head's squared k/v rows; a
/// channel's gate and up rows and down column). A layer's score is the mean of its head scores plus the mean of
/// its channel scores (0 for an absent part), so layers of different widths compare.
/// </summary>
public sealed class MagnitudeCriterion : IImportanceCriterion
{
    public string Name => "magnitude";

    public ImportanceScores Score(LlamaForCausalLM model, CalibrationData data, string modelHash)
    {
        var c = model.Config;
        using var _ = no_grad();
        Func<Tensor, Tensor> squared = w => CoupledWeights.Squared(w.detach());
        var layers = model.Layers;
        var heads = layers.Select(l => l.self_attn is { } attn
            ? CoupledWeights.HeadSums(attn, c.HeadDim, c.GroupSize, squared).Select(Math.Sqrt).ToArray()
            : []).ToArray();
        var channels = layers.Select(l => l.mlp is { } mlp
            ? CoupledWeights.ChannelSums(mlp, squared).Select(Math.Sqrt).ToArray()
            : []).ToArray();
        var layerScores = heads.Select((h, i) => CoupledWeights.Mean(h) + CoupledWeights.Mean(channels[i])).ToArray();
        return new ImportanceScores(Name, modelHash, data.Settings, heads, channels, layerScores);
    }
}
