using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// Activation-weighted magnitude, forward only (Wanda's |W|·||X|| carried to whole structures, as FLAP and
/// Wanda-sp do): a channel scores mean_t |silu(gate_c)·up_c| × ||W_down[:, c]||, a head scores
/// mean_t ||o_h(t)|| × ||W_o[:, head columns]||_F, where o_h is the head's attention output before o_proj. This is
/// the mean-magnitude form, not FLAP's fluctuation metric (the variance of the activation around its mean, which
/// FLAP pairs with a bias compensation that this model does not have). A layer scores its block influence
/// (ShortGPT: mean over tokens of 1 − cos(h_in, h_out)).
/// </summary>
public sealed class ActivationCriterion(int batchSize = 4) : IImportanceCriterion
{
    public string Name => "activation";

    public ImportanceScores Score(LlamaForCausalLM model, CalibrationData data, string modelHash)
    {
        var stats = ActivationStatistics.Collect(model, data, batchSize, headGrams: false);
        double tokens = stats.Tokens;
        using var _ = no_grad();
        var layers = model.Layers;
        var heads = layers.Select((l, i) => l.self_attn is { } attn
            ? CoupledWeights.OutputColumnNorms(attn).Select((norm, h) => stats.HeadNormSums[i][h] / tokens * norm).ToArray()
            : []).ToArray();
        var channels = layers.Select((l, i) => l.mlp is { } mlp
            ? CoupledWeights.DownColumnNorms(mlp).Select((norm, ch) => stats.ChannelAbsSums[i][ch] / tokens * norm).ToArray()
            : []).ToArray();
        return new ImportanceScores(Name, modelHash, data.Settings, heads, channels, stats.BlockInfluence);
    }
}
