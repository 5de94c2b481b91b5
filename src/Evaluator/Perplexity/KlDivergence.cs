using TorchSharp;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Evaluator.Perplexity;

/// <summary>
/// KL(dense ‖ candidate), EvoPress's fitness: per predicted token, Σ_v p(v) log p(v)/q(v) with p the dense model's
/// next-token distribution and q the candidate's, averaged over the predicted tokens of the windows. Zero exactly when
/// the candidate predicts what the dense model predicts; unlike NLL it does not reward a candidate for being "right"
/// where the dense model was wrong.
/// <para>
/// Top-k form (<see cref="DenseReference"/> with k &gt; 0): with K the dense top-k ids of a position and T the rest
/// (the tail), p_T = Σ_{v∈T} p(v), q_T likewise,
/// KL_k = Σ_{v∈K} p(v) log p(v)/q(v) + p_T log p_T/q_T.
/// KL_k is the KL of the distributions coarsened to K ∪ {T}, so 0 ≤ KL_k ≤ KL (log-sum inequality). The gap is
/// KL − KL_k = p_T · KL(p̃ ‖ q̃), with p̃, q̃ the distributions conditioned on the tail, hence
/// KL − KL_k ≤ p_T · log( (p_max,T / p_T) · (q_T / q_min,T) ),
/// p_max,T the largest dense tail probability (the (k+1)-th largest overall) and q_min,T the smallest candidate tail
/// probability. The gap is small when the dense tail mass p_T is (a confident model), and grows where the candidate
/// reshuffles a heavy dense tail.
/// </para>
/// </summary>
public static class KlDivergence
{
    /// <summary>
    /// Summed NLL, summed KL(dense ‖ candidate) and predicted-token count of the model as it is now on the windows, in
    /// batches of the reference's batch size (the positions line up with the reference's). One log-softmax per chunk
    /// serves both: nll_loss(log_softmax(x)) is how cross_entropy computes NLL, so NLL here equals
    /// <see cref="PerplexityEvaluator.Score"/>'s.
    /// </summary>
    public static (double Nll, double Kl, long Tokens) Score(LlamaForCausalLM model, IReadOnlyList<long[]> windows, DenseReference reference)
    {
        double nll = 0, kl = 0;
        long tokens = 0;
        int b = 0;
        using var _ = inference_mode();
        foreach (var batch in PerplexityEvaluator.Batches(model, windows, reference.BatchSize))
        {
            using var input = batch;
            using var scope = NewDisposeScope();
            var hidden = model.NextTokenHidden(input);
            var targets = LlamaForCausalLM.NextTokenTargets(input);
            foreach (var (start, n) in LlamaForCausalLM.Chunks(targets.shape[0], model.ChunkTokens))
            {
                using var chunkScope = NewDisposeScope();
                var logP = F.log_softmax(model.OutputLogits(hidden.narrow(0, start, n)), 1);
                nll += F.nll_loss(logP, targets.narrow(0, start, n), reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
                kl += reference.KlSum(b, start, n, logP);
            }
            tokens += targets.shape[0];
            b++;
        }
        return (nll, kl, tokens);
    }

    /// <summary>
    /// Σ p log p/q over all entries, from log-probs of equal shape, in float64; a term with p = 0 counts 0 (the limit),
    /// not NaN (0 · −∞).
    /// </summary>
    public static double Terms(Tensor logP, Tensor logQ)
    {
        using var scope = NewDisposeScope();
        var lp = logP.to_type(ScalarType.Float64);
        var lq = logQ.to_type(ScalarType.Float64);
        var terms = lp.exp() * (lp - lq);
        return where(lp.isneginf(), zeros_like(terms), terms).sum().item<double>();
    }

    /// <summary>
    /// log Σ_{v∉ids} exp(logP[v]) per row: the log-mass outside the given ids, computed as a masked log-sum-exp (not as
    /// log(1 − Σ kept), which cancels catastrophically when the kept mass is near 1). [n] float32.
    /// </summary>
    public static Tensor TailLogMass(Tensor logP, Tensor ids)
    {
        using var scope = NewDisposeScope();
        using var negativeInfinity = double.NegativeInfinity.ToScalar(); // alive through the call (see KeptScalars)
        var masked = logP.scatter(1, ids, full_like(ids, negativeInfinity, dtype: logP.dtype));
        return masked.logsumexp(1).MoveToOuterDisposeScope();
    }
}
