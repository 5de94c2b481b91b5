using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// Output approximation (Li, Dong &amp; Lei 2024, greedy pruning of depth-2 modules): a structure's score is the
/// squared error its removal alone causes in its block's output on the calibration tokens. Removing channel c
/// takes a_c(t)·W_down[:, c] out of every token's output, so its score is ||W_down[:, c]||² · Σ_t a_c(t)². Removing
/// head h takes W_o,h·o_h(t) out (W_o,h the head's o_proj columns), so its score is
/// Σ_t ||W_o,h o_h(t)||² = ⟨Σ_t o_h o_hᵀ, W_o,hᵀ W_o,h⟩: computed from per-head Gram matrices collected in one
/// forward pass, never one forward per structure. A layer scores its block influence (ShortGPT: mean over
/// tokens of 1 − cos(h_in, h_out)).
/// </summary>
public sealed class OutputApproximationCriterion(int batchSize = 4) : IImportanceCriterion
{
    public string Name => "output-approx";

    public ImportanceScores Score(LlamaForCausalLM model, CalibrationData data, string modelHash)
    {
        var stats = ActivationStatistics.Collect(model, data, batchSize, headGrams: true);
        var layers = model.Layers;
        var heads = layers.Select((l, i) => l.self_attn is { } attn ? HeadScores(attn, stats.HeadGrams[i], model.Config.HeadDim) : []).ToArray();
        var channels = layers.Select((l, i) => l.mlp is { } mlp
            ? CoupledWeights.DownColumnNorms(mlp).Select((norm, ch) => norm * norm * stats.ChannelSquareSums[i][ch]).ToArray()
            : []).ToArray();
        return new ImportanceScores(Name, modelHash, data.Settings, heads, channels, stats.BlockInfluence);
    }

    static double[] HeadScores(LlamaAttention attn, double[][] activationGrams, int headDim)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int heads = attn.StoredHeads;
        var w = attn.o_proj.weight!.detach().to_type(ScalarType.Float64);
        var perHead = w.reshape(w.shape[0], heads, headDim).permute(1, 0, 2); // [heads, hidden, d]
        var weightGrams = CalibrationPass.ToDoubles(perHead.transpose(1, 2).bmm(perHead)); // [heads, d, d]
        int size = headDim * headDim;
        var scores = new double[heads];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < size; j++) scores[h] += activationGrams[h][j] * weightGrams[h * size + j];
        return scores;
    }
}
