using NasPrune.Common;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Evaluator.Perplexity;

/// <summary>
/// What the dense model predicted on fixed windows, kept once so that every candidate's KL(dense ‖ candidate) costs no
/// dense forward. Full dense log-probabilities are never kept (windows × positions × vocab floats: gigabytes for a
/// large vocabulary). Two forms, per batch of windows (the candidate is scored with the same batches):
/// <list type="bullet">
/// <item>top-k (<see cref="TopK"/> &gt; 0): each position's k most likely token ids, their dense log-probs and the
/// log of the remaining (tail) mass. The KL over the k ids plus one tail bucket is the KL of the coarsened
/// distributions, a lower bound on the true KL (log-sum inequality); see <see cref="KlDivergence"/> for the bound on
/// the gap. windows·(seq−1)·(k·12 + 8) bytes.</item>
/// <item>exact (<see cref="TopK"/> = 0): the dense final hidden states; the candidate's scoring recomputes the dense
/// log-softmax chunk by chunk from them (one extra output projection, no extra decoder forward).
/// windows·(seq−1)·hidden floats.</item>
/// </list>
/// </summary>
public sealed class DenseReference : IDisposable
{
    public int TopK { get; }
    public int BatchSize { get; }
    readonly LlamaForCausalLM model;
    readonly List<(Tensor Ids, Tensor LogP, Tensor TailLogP)> topK = [];
    readonly List<Tensor> hidden = [];

    DenseReference(LlamaForCausalLM model, int topK, int batchSize)
    {
        this.model = model;
        TopK = topK;
        BatchSize = batchSize;
    }

    /// <summary>
    /// Runs the model as it is now (the caller makes it dense: full active shapes) over the windows in batches of
    /// <paramref name="batchSize"/>, keeping the top-<paramref name="topK"/> form, or the exact form for 0.
    /// </summary>
    public static DenseReference Build(LlamaForCausalLM model, IReadOnlyList<long[]> windows, int batchSize, int topK)
    {
        if (topK < 0 || topK >= model.Config.VocabSize)
            throw new UserError($"--kl-topk {topK}: must be 0 (exact) or between 1 and the vocabulary size {model.Config.VocabSize} − 1");
        var reference = new DenseReference(model, topK, batchSize);
        using var _ = inference_mode();
        foreach (var batch in PerplexityEvaluator.Batches(model, windows, batchSize))
        {
            using var input = batch;
            using var scope = NewDisposeScope();
            var h = model.NextTokenHidden(input);
            if (topK == 0)
            {
                reference.hidden.Add(h.DetachFromDisposeScope());
                continue;
            }
            var ids = new List<Tensor>();
            var logP = new List<Tensor>();
            var tail = new List<Tensor>();
            foreach (var (start, n) in LlamaForCausalLM.Chunks(h.shape[0], model.ChunkTokens))
            {
                var lp = F.log_softmax(model.OutputLogits(h.narrow(0, start, n)), 1);
                var (values, indices) = lp.topk(topK, dim: 1);
                ids.Add(indices);
                logP.Add(values);
                tail.Add(KlDivergence.TailLogMass(lp, indices));
            }
            reference.topK.Add((cat(ids, 0).DetachFromDisposeScope(), cat(logP, 0).DetachFromDisposeScope(), cat(tail, 0).DetachFromDisposeScope()));
        }
        return reference;
    }

    /// <summary>
    /// Summed KL(dense ‖ candidate) (nats) over positions start..start+n of batch <paramref name="batch"/>, given the
    /// candidate's log-probs [n, vocab] there: over the k ids and the tail bucket, or over the whole vocabulary.
    /// </summary>
    public double KlSum(int batch, long start, long n, Tensor candidateLogP)
    {
        using var scope = NewDisposeScope();
        if (TopK == 0)
        {
            var dense = F.log_softmax(model.OutputLogits(hidden[batch].narrow(0, start, n)), 1);
            return KlDivergence.Terms(dense, candidateLogP);
        }
        var (ids, logP, tailLogP) = topK[batch];
        var kept = ids.narrow(0, start, n);
        return KlDivergence.Terms(logP.narrow(0, start, n), candidateLogP.gather(1, kept))
               + KlDivergence.Terms(tailLogP.narrow(0, start, n), KlDivergence.TailLogMass(candidateLogP, kept));
    }

    public void Dispose()
    {
        foreach (var (ids, logP, tail) in topK) { ids.Dispose(); logP.Dispose(); tail.Dispose(); }
        foreach (var h in hidden) h.Dispose();
    }
}
