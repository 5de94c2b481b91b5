using NasPrune.Evaluator.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// First-order Taylor importance (LLM-Pruner, Ma et al. 2023), element-wise and summed over the coupled group:
/// a structure's score is Σ_k |w_k · ∂L/∂w_k| over its coupled weights (see <see cref="CoupledWeights"/>), where L
/// is the mean next-token cross-entropy over all calibration tokens, the loss training minimises.
/// </summary>
/// <remarks>
/// LLM-Pruner defines two first-order forms: vector-wise |Σ_k w_k g_k| (the loss change of zeroing the whole
/// structure) and element-wise Σ_k |w_k g_k| (its "param_first", the setting of its reported LLaMA results). The
/// element-wise form is used here: summed signed terms of a structure cancel, which makes the vector-wise score
/// noisy at the small calibration sizes a search affords, and both are 0 exactly when a structure's weights or
/// gradients are. Gradients are accumulated over the calibration batches before the products are taken, as
/// LLM-Pruner's single backward over its calibration batch does; the batch size changes nothing but memory.
/// A layer's score is the same element-wise sum over all its parameters (norms included): the Taylor block
/// criterion of Shortened LLaMA (Kim et al. 2024).
/// The full [batch, seq, vocab] logits and their gradient exist per batch: lower the batch size for large vocabularies.
/// </remarks>
public sealed class TaylorCriterion(int batchSize = 4) : IImportanceCriterion
{
    public string Name => "taylor";

    public ImportanceScores Score(LlamaForCausalLM model, CalibrationData data, string modelHash) =>
        CalibrationPass.AtFullShape(model, () =>
        {
            var parameters = model.parameters().ToArray();
            var requiredGrad = parameters.Select(p => p.requires_grad).ToArray();
            try
            {
                foreach (var p in parameters) p.requires_grad = true;
                model.zero_grad();
                Backward(model, data);
                return Scores(model, data, modelHash);
            }
            finally
            {
                // Leave no gradients behind: the caller's model is an evaluator's, not a trainer's.
                model.zero_grad();
                for (int i = 0; i < parameters.Length; i++) parameters[i].requires_grad = requiredGrad[i];
            }
        });

    /// <summary>Accumulates ∂L/∂w of the mean cross-entropy over every predicted calibration token.</summary>
    void Backward(LlamaForCausalLM model, CalibrationData data)
    {
        using var _ = enable_grad();
        double tokens = data.PredictedTokens;
        CalibrationPass.ForEachBatch(model, data, batchSize, input =>
        {
            // Summed, then divided by all calibration tokens: the batches' gradients add up to the gradient of the
            // mean loss over the whole calibration set, whatever the batch size.
            var loss = model.NextTokenLoss(input, nn.Reduction.Sum) / tokens;
            loss.backward();
        });
    }

    ImportanceScores Scores(LlamaForCausalLM model, CalibrationData data, string modelHash)
    {
        var c = model.Config;
        using var _ = no_grad();
        Func<Tensor, Tensor> saliency = w => w.grad is { } g ? (w.detach() * g).abs() : zeros_like(w);
        var layers = model.Layers;
        var heads = layers.Select(l => l.self_attn is { } attn ? CoupledWeights.HeadSums(attn, c.HeadDim, c.GroupSize, saliency) : []).ToArray();
        var channels = layers.Select(l => l.mlp is { } mlp ? CoupledWeights.ChannelSums(mlp, saliency) : []).ToArray();
        var layerScores = layers.Select(l =>
        {
            using var scope = NewDisposeScope();
            return l.parameters().Sum(p => CalibrationPass.ToDoubles(saliency(p).sum())[0]);
        }).ToArray();
        return new ImportanceScores(Name, modelHash, data.Settings, heads, channels, layerScores);
    }
}
