using System.Diagnostics;
using System.Globalization;
using System.Text;
using NasPrune.Common;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Recovery;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Pruning;

/// <summary>What a sweep covers: criteria × budgets × recoveries of uniform pruning, evaluated on one split.</summary>
public sealed record PruningSweepOptions(string ModelDir, string DataDir, IReadOnlyList<string> Criteria, IReadOnlyList<double> Budgets,
    IReadOnlyList<RecoveryPlan> Recoveries, LoraOptions Lora, Split Split, int? EvalWindows, CalibrationSettings Calibration,
    TorchSharp.torch.Device Device, string OutDir, string? CommandLine);

/// <summary>
/// Uniform pruning at several budgets with several criteria and recoveries, evaluated on WikiText-2, PTB and held-out
/// general English: the LLM-Pruner Table-1 analogue for a model. Each criterion's importance is computed (or read from
/// the cache) once and the model reordered once. results.json is rewritten atomically after every row, so an
/// interrupted sweep keeps what it measured; table.md is written at the end.
/// </summary>
public static class PruningSweep
{
    public sealed record SweepRow(string Criterion, double BudgetRemoved, string Recovery, string ArchitectureId, long Params,
        double ParamRatio, double WikiText2Ppl, double PtbPpl, double HeldOutPpl, int WikiText2Windows, int PtbWindows, int HeldOutWindows, double Seconds);
    public sealed record SweepResult(string Model, string ModelHash, long BaseParams, string Split, int SeqLen, int? EvalWindows,
        CalibrationSettings Calibration, int LoraSteps, double LoraLearningRate, double DenseWikiText2Ppl, double DensePtbPpl, double DenseHeldOutPpl, IReadOnlyList<SweepRow> Rows);

    public static SweepResult Run(PruningSweepOptions o, IProgressReporter reporter)
    {
        string modelDir = o.ModelDir;
        var sp = o.Split;
        int? windows = o.EvalWindows;
        var calibration = o.Calibration;
        var lora = o.Lora;
        string outDir = o.OutDir;
        Directory.CreateDirectory(outDir);
        var rows = new List<SweepRow>();
        double denseWiki = double.NaN, densePtb = double.NaN, denseHeldOut = double.NaN;
        long baseParams = 0;
        string hash = "";
        int seqLen = 0;
        SweepResult Snapshot() => new(Path.GetFullPath(modelDir), hash, baseParams, sp.ToString().ToLowerInvariant(), seqLen, windows,
            calibration, lora.Steps, lora.LearningRate, denseWiki, densePtb, denseHeldOut, rows.ToList());
        foreach (var criterion in o.Criteria)
        {
            using var prepared = PreparedModel.Prepare(modelDir, o.DataDir, criterion, calibration, o.Device, log: reporter.Log);
            foreach (double budget in o.Budgets) prepared.Space.TargetParams(budget); // validate all budgets before the long work
            var config = prepared.Model.Config;
            (baseParams, hash, seqLen) = (config.TotalParams, prepared.ModelHash, config.MaxPositionEmbeddings);
            if (double.IsNaN(denseWiki))
            {
                var dense = CandidatePipeline.Perplexities(prepared, prepared.Model, sp, windows, "dense", reporter);
                (denseWiki, densePtb, denseHeldOut) = (dense[0].Ppl, dense[1].Ppl, dense[2].Ppl);
            }
            foreach (double budget in o.Budgets)
            {
                var arch = prepared.Space.Uniform(budget);
                foreach (var plan in o.Recoveries)
                {
                    var watch = Stopwatch.StartNew();
                    IReadOnlyList<PerplexityResult> ppl;
                    string label = $"{criterion} -{budget:P0} {plan.Name}";
                    if (plan.IsNone) ppl = CandidatePipeline.PerplexitiesInPlace(prepared, arch, sp, windows, label, reporter);
                    else
                    {
                        using var pruned = CandidatePipeline.ExtractAndRecover(prepared, arch, plan, reporter, label);
                        ppl = CandidatePipeline.Perplexities(prepared, pruned, sp, windows, label, reporter);
                    }
                    var row = new SweepRow(criterion, budget, plan.Name, arch.Id, arch.Params(config), arch.ParamRatio(config),
                        ppl[0].Ppl, ppl[1].Ppl, ppl[2].Ppl, ppl[0].Windows, ppl[1].Windows, ppl[2].Windows, watch.Elapsed.TotalSeconds);
                    rows.Add(row);
                    reporter.Log(string.Create(CultureInfo.InvariantCulture, $"{label}: wikitext2 {row.WikiText2Ppl:F2}, ptb {row.PtbPpl:F2}, heldout {row.HeldOutPpl:F2} ({row.Seconds:F0} s)"));
                    // Rewritten after every row, atomically: an interrupted sweep keeps what it measured.
                    AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), ReportJson.Serialize(Snapshot()) + "\n");
                }
            }
        }
        var result = Snapshot();
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), ReportJson.Serialize(result) + "\n");
        AtomicFile.WriteAllText(Path.Combine(outDir, "table.md"), Table(result, o.CommandLine));
        return result;
    }

    public static string Table(SweepResult r, string? commandLine)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(inv, $"Uniform structured pruning of `{Path.GetFileName(r.Model)}` (model {r.ModelHash}, {r.BaseParams:N0} parameters): perplexity on the {r.Split} splits, "));
        sb.AppendLine(string.Create(inv, $"{r.SeqLen}-token windows{(r.EvalWindows is int w ? $" (first {w} of each split)" : "")}; importance on {r.Calibration.Sequences} WikiText-2 validation windows (seed {r.Calibration.Seed}); LoRA {r.LoraSteps} steps at peak learning rate {r.LoraLearningRate} on the training corpus."));
        if (commandLine is not null) sb.AppendLine().AppendLine($"`nasprune {commandLine}`");
        sb.AppendLine();
        sb.AppendLine("| removed | criterion | recovery | params | WikiText-2 PPL | PTB PPL | held-out PPL |");
        sb.AppendLine("|---:|---|---|---:|---:|---:|---:|");
        sb.AppendLine(string.Create(inv, $"| 0% | dense | – | {r.BaseParams:N0} | {r.DenseWikiText2Ppl:F2} | {r.DensePtbPpl:F2} | {r.DenseHeldOutPpl:F2} |"));
        foreach (var row in r.Rows.OrderBy(x => x.BudgetRemoved).ThenBy(x => x.Criterion).ThenBy(x => Array.IndexOf(RecoveryPlan.Names, x.Recovery)))
            sb.AppendLine(string.Create(inv, $"| {row.BudgetRemoved * 100:F0}% | {row.Criterion} | {row.Recovery} | {row.Params:N0} ({row.ParamRatio * 100:F1}%) | {row.WikiText2Ppl:F2} | {row.PtbPpl:F2} | {row.HeldOutPpl:F2} |"));
        return sb.ToString();
    }
}
