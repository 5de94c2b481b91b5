using System.Diagnostics;
using System.Reflection;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;

namespace NasPrune.Evaluator.Pairs;

/// <summary>
/// Measures candidates of a prepared model on the pairs' calibration measure and turns each into a
/// <see cref="PairRecord"/>: applies the candidate in place (zero-copy), scores the fixed validation windows,
/// restores nothing (the next Apply overwrites the active shapes). Windows are tokenized and drawn once; with a KL
/// measure the dense model's predictions on the WikiText-2 windows are kept once too (<see cref="DenseReference"/>:
/// the dense model is the prepared model at its full shapes, function-identical to the base model).
/// </summary>
public sealed class PairEvaluator : IDisposable
{
    public PreparedModel Prepared { get; }
    public PairEvaluationSettings Settings { get; }
    readonly IReadOnlyList<(PerplexityTask Task, long[][] Windows)> windows;
    readonly (TaskDefinition Task, IReadOnlyList<MultipleChoiceItem> Items, LogLikelihoodScorer Scorer)? zeroShot;
    readonly DenseReference? dense;
    readonly double denseFlops;
    readonly int seqLen;

    /// <summary>The split every pair is measured on: search never sees test data.</summary>
    public const Split EvaluationSplit = Split.Validation;

    public PairEvaluator(PreparedModel prepared, PairEvaluationSettings settings)
    {
        if (settings.Windows <= 0) throw new UserError($"--windows {settings.Windows}: must be positive");
        if (settings.Tasks.Count == 0 || settings.Tasks[0] != PerplexityTask.WikiText2.Name)
            throw new UserError("pair tasks: wikitext2 must come first (it is the predictor's target); ptb may follow");
        PairMeasure.Check(settings.Measure, "--measure");
        if (settings.Measure == PairMeasure.Kl && (settings.Tasks.Distinct().Count() > 1 || settings.ZeroShotTask is not null))
            throw new UserError("--measure kl scores WikiText-2 only; further --tasks or --zeroshot need --measure both");
        Prepared = prepared;
        Settings = settings;
        seqLen = prepared.SeqLen;
        denseFlops = prepared.Model.Config.ForwardFlopsPerToken(seqLen);
        windows = settings.Tasks.Distinct().Select(name =>
        {
            var task = PerplexityTask.Get(name);
            var all = PerplexityEvaluator.Windows(prepared.EvaluationTokens(task, EvaluationSplit), seqLen);
            if (all.Length < settings.Windows)
                throw new UserError($"--windows {settings.Windows}: {name} validation has only {all.Length} windows of {seqLen} tokens");
            return (task, SeededSubset(all, settings.Windows, settings.WindowSeed));
        }).ToList();
        if (PairMeasure.HasKl(settings.Measure))
        {
            prepared.Reset();
            dense = DenseReference.Build(prepared.Model, windows[0].Windows, settings.BatchSize, settings.KlTopK);
        }
        if (settings.ZeroShotTask is string zs)
        {
            var definition = ZeroShotTasks.Resolve(ZeroShotTasks.Locate(prepared.DataDir), zs).Single();
            var items = definition.LoadItems();
            if (settings.ZeroShotItems <= 0 || settings.ZeroShotItems >= items.Count)
                throw new UserError($"--zeroshot-items {settings.ZeroShotItems}: {zs} has {items.Count} items; take fewer, the rest is for final verification");
            var scorer = new LogLikelihoodScorer(prepared.Model, new RequestEncoder(prepared.Tokenizer, seqLen), settings.BatchSize, ScoringMode.Batched);
            zeroShot = (definition, items.Skip(items.Count - settings.ZeroShotItems).ToList(), scorer);
        }
    }

    /// <summary>The fixed validation windows of one of the settings' tasks.</summary>
    public IReadOnlyList<long[]> TaskWindows(PerplexityTask task) => windows.Single(w => w.Task == task).Windows;

    /// <summary>A fixed random subset of windows (sorted, so the order of evaluation is the split's).</summary>
    static long[][] SeededSubset(long[][] all, int count, long seed)
    {
        var order = SeededPermutation.Of(all.Length, unchecked((int)seed));
        return order.Take(count).Order().Select(i => all[i]).ToArray();
    }

    /// <summary>Measures one candidate. <paramref name="forwardSeconds"/> is the time spent inside model forwards.</summary>
    public PairRecord Evaluate(Architecture a, out double forwardSeconds)
    {
        var config = Prepared.Model.Config;
        Prepared.Apply(a);
        var row = new PairRecord
        {
            ArchId = a.Id,
            BaseModel = Prepared.ModelHash,
            Architecture = a.ToJson().ToJsonString(),
            HeadRatio = a.Layers.Select((_, i) => a.HeadRatio(i, config)).ToList(),
            FfnRatio = a.Layers.Select((_, i) => a.FfnRatio(i, config)).ToList(),
            LayerKept = a.Layers.Select(l => l.Keep ? 1.0 : 0.0).ToList(),
            Params = a.Params(config),
            ParamRatio = a.ParamRatio(config),
            FlopsPerToken = a.ForwardFlopsPerToken(config, seqLen),
            FlopsRatio = a.ForwardFlopsPerToken(config, seqLen) / denseFlops,
            Criterion = Prepared.Scores.Criterion,
            CalibrationSeed = Prepared.Calibration.Settings.Seed,
            EvalSplit = EvaluationSplit.ToString().ToLowerInvariant(),
            EvalWindows = Settings.Windows,
            EvalSeqLen = seqLen,
            WindowSeed = Settings.WindowSeed,
            NasPruneVersion = ProductVersion.Current,
        };
        var watch = Stopwatch.StartNew();
        foreach (var (task, taskWindows) in windows)
        {
            double nll;
            long tokens;
            if (dense is not null && task == PerplexityTask.WikiText2)
            {
                (nll, double kl, tokens) = KlDivergence.Score(Prepared.Model, taskWindows, dense);
                row.WikiText2Kl = kl / tokens;
                row.KlTopK = dense.TopK;
            }
            else (nll, tokens) = PerplexityEvaluator.Score(Prepared.Model, taskWindows, Settings.BatchSize);
            double mean = nll / tokens;
            if (task == PerplexityTask.WikiText2) { row.WikiText2Nll = mean; row.WikiText2Ppl = Math.Exp(mean); }
            else { row.PtbNll = mean; row.PtbPpl = Math.Exp(mean); }
        }
        if (zeroShot is var (definition, items, scorer))
        {
            row.ZeroShotTask = definition.Task;
            row.ZeroShotAcc = MultipleChoiceEvaluator.Evaluate(scorer, definition, items).Reported;
        }
        forwardSeconds = watch.Elapsed.TotalSeconds;
        row.ForwardSeconds = forwardSeconds;
        return row;
    }

    public void Dispose() => dense?.Dispose();
}
