using NasPrune.Common;
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
public sealed class TaylorCriterion(int batchSize = 4, Func<long>? availableBytes = null) : IImportanceCriterion
{
    public string Name => "taylor";

    /// <summary>
    /// What a Taylor pass holds at its peak, in bytes, by the memory model: the weights and their gradients (one
    /// element each, in the compute dtype), the activations autograd keeps for one batch of
    /// <paramref name="batch"/> × <paramref name="seqLen"/> tokens, and that batch's float32 logits three times
    /// (logits, log-softmax, their gradient).
    /// </summary>
    /// <remarks>
    /// Per token and layer the kept activations are counted as: 3·hidden per RMSNorm (float32 input, scale, output;
    /// two norms) and 2·hidden for the residual adds; 3·(q + 2·kv) for q/k/v before and after RoPE and its rotated
    /// halves; heads·seqLen attention probabilities (the math kernel's, an upper bound for fused kernels); q for
    /// o_proj's input; 4·ffn for gate, up, act(gate) and their product. All in float32 (4 bytes).
    /// </remarks>
    public static MemoryEstimate Estimate(ModelConfig c, int batch, int seqLen, int elementSize = 4)
    {
        long weights = c.TotalParams * elementSize;
        double perToken = 0;
        foreach (var l in c.Layers)
        {
            if (l.HasAttention)
            {
                double q = (double)l.Heads * c.HeadDim, kv = (double)l.KvHeads * c.HeadDim;
                perToken += 3 * c.HiddenSize + c.HiddenSize + 3 * (q + 2 * kv) + (double)l.Heads * seqLen + q;
            }
            if (l.HasMlp) perToken += 3 * c.HiddenSize + c.HiddenSize + 4.0 * l.Ffn;
        }
        long tokens = (long)batch * seqLen;
        long activations = (long)(perToken * tokens * 4);
        long logits = 3L * tokens * c.VocabSize * 4;
        return new MemoryEstimate(weights, weights, activations, logits);
    }

    /// <summary>Bytes of a Taylor pass by <see cref="Estimate"/>; <see cref="Total"/> is the peak.</summary>
    public sealed record MemoryEstimate(long Weights, long Gradients, long Activations, long Logits)
    {
        public long Total => Weights + Gradients + Activations + Logits;
        static string G(long b) => $"{b / (double)(1L << 30):F1} GiB";
        public override string ToString() =>
            $"{G(Total)} (weights {G(Weights)} + gradients {G(Gradients)} + activations {G(Activations)} + logits {G(Logits)})";
    }

    /// <summary>
    /// Memory a pass needs beyond the loaded weights, with a 10 % margin: the model's estimates were 4 % below and
    /// 15 % above the measured peaks (Qwen3-0.6B and SmolLM-135M shapes, experiments/scale).
    /// </summary>
    public static long RequiredExtra(MemoryEstimate e) => (long)((e.Total - e.Weights) * 1.1);

    /// <summary>
    /// Refuses, before any gradient exists, a pass whose estimated extra memory (everything but the weights already
    /// loaded) exceeds what the machine has available; on CUDA the check is left to the allocator.
    /// </summary>
    void CheckMemory(LlamaForCausalLM model, CalibrationData data)
    {
        var first = model.parameters().First();
        if (first.device_type != TorchSharp.DeviceType.CPU && availableBytes is null) return;
        int batch = Math.Min(batchSize, data.Windows.Count);
        var estimate = Estimate(model.Config, batch, data.SeqLen, (int)first.element_size());
        long extra = RequiredExtra(estimate);
        long available = (availableBytes ?? Runtime.ProcessMemory.Available)();
        if (extra > available)
            throw new Common.UserError($"taylor importance needs about {estimate} for batches of {batch} x {data.SeqLen} tokens; " +
                $"beyond the loaded weights that is {extra / (double)(1L << 30):F1} GiB, and {available / (double)(1L << 30):F1} GiB are available: " +
                "use shorter --seq-len windows, or the activation or magnitude criterion, or a machine with more memory");
    }

    public ImportanceScores Score(LlamaForCausalLM model, CalibrationData data, string modelHash) =>
        CalibrationPass.AtFullShape(model, () =>
        {
            CheckMemory(model, data);
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
