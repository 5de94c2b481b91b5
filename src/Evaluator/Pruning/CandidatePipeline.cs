using NasPrune.Common;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;

namespace NasPrune.Evaluator.Pruning;

/// <summary>
/// The one path from an architecture to a pruned model and its figures, shared by <c>prune</c>, <c>prune-sweep</c> and
/// the campaign's final verification: measure it in place (prefix views of the reordered model, no copy), or extract
/// it as a smaller model and run its recovery; then perplexity on every task. Exporting is
/// <see cref="Export.ModelExport"/>.
/// </summary>
public static class CandidatePipeline
{
    /// <summary>The architecture as a smaller model, recovered by <paramref name="recovery"/>; the caller disposes it.</summary>
    public static LlamaForCausalLM ExtractAndRecover(PreparedModel prepared, Architecture architecture, RecoveryPlan recovery,
        IProgressReporter reporter, string label)
    {
        var pruned = prepared.Extract(architecture);
        try
        {
            if (!recovery.IsNone)
            {
                reporter.Log($"{label}: {recovery.Name} recovery");
                recovery.Run(prepared, pruned, reporter.Log);
            }
            return pruned;
        }
        catch
        {
            pruned.Dispose();
            throw;
        }
    }

    /// <summary>Perplexity of the architecture applied in place on every task (<see cref="PerplexityTask.All"/>); the model is reset afterwards.</summary>
    public static IReadOnlyList<PerplexityResult> PerplexitiesInPlace(PreparedModel prepared, Architecture architecture, Split split, int? windows,
        string label, IProgressReporter reporter)
    {
        prepared.Apply(architecture);
        try { return Perplexities(prepared, prepared.Model, split, windows, label, reporter); }
        finally { prepared.Reset(); }
    }

    /// <summary>Perplexity of <paramref name="model"/> on every task (<see cref="PerplexityTask.All"/>), under one progress stage.</summary>
    public static IReadOnlyList<PerplexityResult> Perplexities(PreparedModel prepared, LlamaForCausalLM model, Split split, int? windows,
        string label, IProgressReporter reporter)
    {
        int total = PerplexityTask.All.Sum(t => prepared.WindowCount(t, split, windows));
        return reporter.Track($"{label}: {string.Join(" + ", PerplexityTask.All.Select(t => t.Name))} {split.ToString().ToLowerInvariant()}", total, progress =>
        {
            var results = new List<PerplexityResult>();
            foreach (var task in PerplexityTask.All)
            {
                int offset = results.Sum(r => r.Windows);
                results.Add(prepared.Perplexity(model, task, split, windows, progress: new Offset(progress, offset)));
            }
            return results;
        });
    }

    /// <summary>Reports progress of one task on top of the windows of the tasks before it.</summary>
    sealed class Offset(IProgress<int> inner, int offset) : IProgress<int>
    {
        public void Report(int value) => inner.Report(offset + value);
    }
}
