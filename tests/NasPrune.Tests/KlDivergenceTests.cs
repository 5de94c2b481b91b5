using NasPrune.Common;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Pairs;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// The pairs' KL(dense ‖ candidate) against a direct computation: full logits of the plain forward, full softmax of
/// dense and candidate, Σ p log p/q per predicted token, averaged, all in C# doubles here.
/// </summary>
public sealed class KlDivergenceTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>
{
    static readonly CalibrationSettings Calibration = new(Sequences: 4, Seed: 3);
    const int TopK = 8;

    PreparedModel Prepare() => PreparedModel.Prepare(tiny.Dir, DataDirectory.Resolve(), "magnitude", Calibration, CPU);

    /// <summary>Five windows in batches of two: the last batch is short, so per-batch alignment is exercised.</summary>
    static PairEvaluator Evaluator(PreparedModel prepared, string measure, int topK = TopK) =>
        new(prepared, new PairEvaluationSettings([PerplexityTask.WikiText2.Name], Windows: 5, BatchSize: 2, Measure: measure, KlTopK: topK));

    /// <summary>Log-probs of every predicted token [token][vocab] of the architecture, one window per full-logit forward.</summary>
    static List<double[]> LogProbs(PreparedModel prepared, Architecture architecture, IReadOnlyList<long[]> windows)
    {
        prepared.Apply(architecture);
        using var _ = inference_mode();
        var rows = new List<double[]>();
        foreach (var w in windows)
        {
            using var scope = NewDisposeScope();
            var logits = prepared.Model.call(tensor(w, [1, w.Length]))[0].narrow(0, 0, w.Length - 1).to_type(ScalarType.Float64);
            var all = logits.data<double>().ToArray();
            int vocab = (int)logits.shape[1];
            for (int t = 0; t < logits.shape[0]; t++)
            {
                var row = all.AsSpan(t * vocab, vocab).ToArray();
                double max = row.Max(), log = max + Math.Log(row.Sum(x => Math.Exp(x - max)));
                rows.Add(row.Select(x => x - log).ToArray());
            }
        }
        return rows;
    }

    /// <summary>Mean exact KL, mean top-k-plus-tail KL and mean stated bound on their gap, computed directly.</summary>
    static (double Exact, double TopK, double Bound) Direct(List<double[]> dense, List<double[]> candidate, int k)
    {
        double exact = 0, topK = 0, bound = 0;
        for (int t = 0; t < dense.Count; t++)
        {
            double[] p = dense[t], q = candidate[t];
            exact += p.Select((lp, v) => Math.Exp(lp) * (lp - q[v])).Sum();
            var order = Enumerable.Range(0, p.Length).OrderByDescending(v => p[v]).ToArray();
            var kept = order.Take(k).ToArray();
            var tail = order.Skip(k).ToArray();
            double pT = tail.Sum(v => Math.Exp(p[v])), qT = tail.Sum(v => Math.Exp(q[v]));
            topK += kept.Sum(v => Math.Exp(p[v]) * (p[v] - q[v])) + pT * Math.Log(pT / qT);
            double pMax = Math.Exp(p[tail[0]]), qMin = tail.Min(v => Math.Exp(q[v]));
            bound += pT * Math.Log(pMax / pT * (qT / qMin));
        }
        return (exact / dense.Count, topK / dense.Count, bound / dense.Count);
    }

    [Fact]
    public void KlMatchesTheDirectComputationAndTopKIsAWithinBoundLowerBound()
    {
        using var prepared = Prepare();
        using var exact = Evaluator(prepared, PairMeasure.Kl, topK: 0);
        using var approx = Evaluator(prepared, PairMeasure.Kl);
        var windows = exact.TaskWindows(PerplexityTask.WikiText2);
        var dense = LogProbs(prepared, prepared.Space.Full, windows);
        var candidates = new[] { prepared.Space.Uniform(0.4), prepared.Space.Random(0.5, new Random(5), minRatio: 0.3) };
        foreach (var candidate in candidates)
        {
            var direct = Direct(dense, LogProbs(prepared, candidate, windows), TopK);
            var exactRow = exact.Evaluate(candidate, out _);
            var approxRow = approx.Evaluate(candidate, out _);
            Assert.Equal(0, exactRow.KlTopK);
            Assert.Equal(TopK, approxRow.KlTopK);
            // Float32 forwards in batches of two vs one window at a time: agreement to float32 accuracy.
            Assert.True(Math.Abs(exactRow.WikiText2Kl!.Value - direct.Exact) < 1e-4 * direct.Exact, $"exact {exactRow.WikiText2Kl} vs direct {direct.Exact}");
            Assert.True(Math.Abs(approxRow.WikiText2Kl!.Value - direct.TopK) < 1e-4 * direct.TopK, $"top-{TopK} {approxRow.WikiText2Kl} vs direct {direct.TopK}");
            // The tail bucket's KL is a lower bound, and the gap is within the stated bound (a non-trivial one here).
            Assert.True(direct.TopK < direct.Exact, $"top-{TopK} {direct.TopK} vs exact {direct.Exact}");
            Assert.True(approxRow.WikiText2Kl <= exactRow.WikiText2Kl, $"top-{TopK} {approxRow.WikiText2Kl} vs exact {exactRow.WikiText2Kl}");
            Assert.True(direct.Exact - direct.TopK <= direct.Bound, $"gap {direct.Exact - direct.TopK} vs bound {direct.Bound}");
        }
    }

    [Fact]
    public void TheDenseCandidateHasZeroKlAndKlLeavesNllUnchanged()
    {
        using var prepared = Prepare();
        using var exact = Evaluator(prepared, PairMeasure.Kl, topK: 0);
        using var approx = Evaluator(prepared, PairMeasure.Both);
        using var nllOnly = Evaluator(prepared, PairMeasure.Nll);
        Assert.InRange(exact.Evaluate(prepared.Space.Full, out _).WikiText2Kl!.Value, -1e-6, 1e-6);
        Assert.InRange(approx.Evaluate(prepared.Space.Full, out _).WikiText2Kl!.Value, -1e-6, 1e-6);

        var candidate = prepared.Space.Uniform(0.3);
        var withKl = approx.Evaluate(candidate, out _);
        var plain = nllOnly.Evaluate(candidate, out _);
        Assert.Null(plain.WikiText2Kl);
        Assert.Null(plain.KlTopK);
        Assert.True(withKl.WikiText2Kl > 0);
        Assert.Equal(plain.WikiText2Nll, withKl.WikiText2Nll); // one log-softmax serves both, bit for bit what NLL alone gives
    }

    [Fact]
    public void KlSettingsMistakesAreUserErrors()
    {
        using var prepared = Prepare();
        var both = new PairEvaluationSettings(["wikitext2", "ptb"], Windows: 2, Measure: PairMeasure.Kl);
        Assert.Contains("--measure both", Assert.Throws<UserError>(() => new PairEvaluator(prepared, both)).Message);
        int vocab = prepared.Model.Config.VocabSize;
        Assert.Contains("--kl-topk", Assert.Throws<UserError>(() => Evaluator(prepared, PairMeasure.Kl, vocab)).Message);
        Assert.Contains("--measure", Assert.Throws<UserError>(() => Evaluator(prepared, "kld")).Message);
    }

    [Fact]
    public void PairsAreMeasuredOnValidationWindowsNeverOnTestText()
    {
        using var prepared = Prepare();
        using var evaluator = new PairEvaluator(prepared, new PairEvaluationSettings(["wikitext2", "ptb"], Windows: 3));
        int seq = prepared.Model.Config.MaxPositionEmbeddings;
        foreach (var task in new[] { PerplexityTask.WikiText2, PerplexityTask.Ptb })
        {
            string Key(long[] w) => string.Join(',', w);
            var validation = PerplexityEvaluator.Windows(prepared.EvaluationTokens(task, Split.Validation), seq).Select(Key).ToHashSet();
            var test = PerplexityEvaluator.Windows(prepared.EvaluationTokens(task, Split.Test), seq).Select(Key).ToHashSet();
            var used = evaluator.TaskWindows(task);
            Assert.Equal(3, used.Count);
            Assert.All(used, w => Assert.Contains(Key(w), validation));
            Assert.All(used, w => Assert.DoesNotContain(Key(w), test));
        }
        // The row says so, and its NLL is the dense model's on exactly those windows.
        var row = evaluator.Evaluate(prepared.Space.Full, out _);
        Assert.Equal("validation", row.EvalSplit);
        prepared.Reset();
        var (total, tokens) = PerplexityEvaluator.Score(prepared.Model, evaluator.TaskWindows(PerplexityTask.WikiText2), 8);
        Assert.Equal(total / tokens, row.WikiText2Nll, 12);
    }
}
