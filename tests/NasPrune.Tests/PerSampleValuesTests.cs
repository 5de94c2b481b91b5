using NasPrune.Common;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Perplexity;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// The per-window and per-item values the evaluators now keep (for paired bootstrap intervals) recompute the
/// aggregates they report, and keeping them did not change those aggregates.
/// </summary>
public sealed class PerSampleValuesTests
{
    static string DataDir => DataDirectory.Resolve();

    [Fact]
    public void PerplexityWindowsSumToTheUnchangedAggregate()
    {
        using var model = TinyHarnessModel.Create(128);
        var random = new Random(5);
        var ids = Enumerable.Range(0, 128 * 13 + 50).Select(_ => random.Next(model.Config.VocabSize)).ToArray();
        // Ten windows of 127 predicted tokens per forward: 1,270 positions, so a 1,024-position loss chunk ends inside a window.
        var result = PerplexityEvaluator.Evaluate(model, ids, "synthetic", "test", 128, batchSize: 10);
        var (nll, tokens) = PerplexityEvaluator.Score(model, PerplexityEvaluator.Windows(ids, 128), 10);

        Assert.Equal(13, result.WindowNll!.Count);
        Assert.Equal(nll / tokens, result.Nll); // the reported aggregate is computed as before, bit for bit
        Assert.Equal(tokens, result.Tokens);
        Assert.Equal(result.Tokens, result.WindowTokens!.Sum());
        Assert.All(result.WindowTokens!, t => Assert.Equal(127, t));
        double recomputed = result.WindowNll.Sum() / result.WindowTokens!.Sum();
        Assert.True(Math.Abs(recomputed - result.Nll) < 1e-6 * result.Nll, $"{recomputed} vs {result.Nll}");
        Assert.Equal(result.Ppl, Math.Exp(recomputed), 1e-5 * result.Ppl);
        // Each window's value is that window alone (not a batch or chunk share).
        var third = PerplexityEvaluator.Evaluate(model, ids.Skip(2 * 128).Take(128).ToArray(), "synthetic", "test", 128, batchSize: 1);
        Assert.Equal(third.Nll * third.Tokens, result.WindowNll[2], 1e-4);
    }

    [Fact]
    public void HarnessOutcomesRecomputeTheReportedAccuracies()
    {
        using var model = TinyHarnessModel.Create(512);
        var encoder = new RequestEncoder(TinyHarnessModel.Tokenizer.Value, 512);
        var scorer = new LogLikelihoodScorer(model, encoder, 8);

        var paradigms = BlimpDataset.Load(BlimpDataset.Locate(DataDir), ["anaphor_gender_agreement", "passive_1", "adjunct_island"], limit: 7);
        var blimp = BlimpEvaluator.Evaluate(scorer, paradigms, "blimp");
        Assert.All(blimp.Paradigms, p => Assert.Equal(p.Acc, p.Correct!.Count(c => c) / (double)p.N));
        Assert.Equal(blimp.Acc, blimp.Paradigms.Average(p => p.Correct!.Count(c => c) / (double)p.Correct!.Count));

        var subjects = MmluDataset.Load(MmluDataset.Locate(DataDir), 5, limit: 3).Take(3).ToList();
        var mmlu = MmluEvaluator.Evaluate(scorer, subjects, 5);
        Assert.Equal(mmlu.N, mmlu.Correct!.Count);
        Assert.Equal(mmlu.Acc, mmlu.Correct.Count(c => c) / (double)mmlu.N);

        var tasks = ZeroShotTasks.Discover(ZeroShotTasks.Locate(DataDir));
        var results = new[] { "arc_easy", "openbookqa", "boolq" }.Select(t => MultipleChoiceEvaluator.Evaluate(scorer, tasks[t], tasks[t].LoadItems(limit: 6))).ToList();
        Assert.Contains(results, r => r.Metric == "acc_norm");
        Assert.Contains(results, r => r.Metric == "acc");
        foreach (var r in results)
        {
            Assert.Equal(r.Acc, r.Correct!.Count(c => c) / (double)r.N);
            Assert.Equal(r.AccNorm, r.CorrectNorm!.Count(c => c) / (double)r.N);
            Assert.Equal(r.Reported, r.ReportedCorrect!.Count(c => c) / (double)r.N);
        }
        Assert.Equal(MultipleChoiceAverage.Of(results).Reported, results.Average(r => r.ReportedCorrect!.Count(c => c) / (double)r.N));
    }
}
