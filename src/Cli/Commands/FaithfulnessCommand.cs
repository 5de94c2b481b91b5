using System.CommandLine;
using System.Globalization;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Pairs;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune faithfulness --pairs DIR</c>: does pruning only hurt, as on a real LLM? Re-measures the dense model
/// under the protocol stored in the pairs directory's sample.json (same criterion order, windows and seeds) and
/// compares every pair with it. Optionally also checks a <c>prune-sweep</c> results.json: every uniform cut's
/// perplexity must lie above the dense model's on every task. Exit 0 when it holds, 1 when it does not.
/// </summary>
public static class FaithfulnessCommand
{
    public sealed record SweepCheck(string File, int Cuts, int AtOrBelowDense, string ClosestCut, string ClosestTask, double ClosestRelativeGap);
    public sealed record Result(FaithfulnessReport Pairs, SweepCheck? Sweep, bool Holds);

    public static Command Create()
    {
        var pairs = new Option<string>("--pairs") { Description = "pairs directory written by `nasprune sample` (its sample.json gives the protocol)", Required = true };
        var sweep = new Option<string?>("--sweep") { Description = "also check a prune-sweep results.json (uniform pruning table)" };
        var model = CliOptions.Model();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("faithfulness", "Check that the dense model's validation loss is below every pruned candidate's (and every uniform cut's)")
        {
            pairs, sweep, model, device, json, data,
        };
        command.SetAction(parse =>
        {
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            string pairsDir = Path.GetFullPath(parse.GetValue(pairs)!);
            // The protocol the pairs were measured with; only the NLL is re-measured, so no KL reference is built.
            var protocol = PairProtocol.Load(pairsDir);
            var rows = PairStore.ReadAll(pairsDir);
            string? sweepPath = parse.GetValue(sweep);
            var sweepCheck = sweepPath is null ? null : CheckSweep(sweepPath);
            using var prepared = PreparedModel.Prepare(modelDir, dataDir, protocol.Criterion, protocol.Calibration,
                DeviceChoice.Resolve(parse.GetValue(device)), log: Output.Log);
            using var evaluator = new PairEvaluator(prepared, new PairEvaluationSettings(protocol.Tasks, protocol.Windows, protocol.WindowSeed));
            var report = FaithfulnessCheck.Run(evaluator, rows);
            var result = new Result(report, sweepCheck, report.Holds && (sweepCheck?.AtOrBelowDense ?? 0) == 0);
            if (parse.GetValue(json)) Output.WriteJson(result);
            else Print(result);
            return result.Holds ? 0 : 1;
        });
        return command;
    }

    static SweepCheck CheckSweep(string path)
    {
        var sweep = JsonFile.Load<PruningSweep.SweepResult>(path, "prune-sweep results.json");
        if (sweep.Rows is null || sweep.Rows.Count == 0) throw new UserError($"{path}: no rows");
        var cuts = sweep.Rows.SelectMany(r => new[]
        {
            (Row: r, Task: "wikitext2", Gap: r.WikiText2Ppl / sweep.DenseWikiText2Ppl - 1),
            (Row: r, Task: "ptb", Gap: r.PtbPpl / sweep.DensePtbPpl - 1),
            (Row: r, Task: "heldout", Gap: r.HeldOutPpl / sweep.DenseHeldOutPpl - 1),
        }).ToList();
        var closest = cuts.MinBy(c => c.Gap);
        return new SweepCheck(Path.GetFullPath(path), sweep.Rows.Count, cuts.Count(c => !(c.Gap > 0)),
            $"{closest.Row.Criterion} -{closest.Row.BudgetRemoved:P0} {closest.Row.Recovery}", closest.Task, closest.Gap);
    }

    static void Print(Result r)
    {
        var p = r.Pairs;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"dense model {p.ModelHash}: WikiText-2 validation NLL {p.DenseNll:F4} (PPL {p.DensePpl:F2}) on {p.Windows} windows (seed {p.WindowSeed}), order {p.Criterion}"));
        Console.WriteLine(string.Create(inv, $"{p.Candidates} candidates (kept {p.MinParamRatio:P1}–{p.MaxParamRatio:P1}): {p.AtOrBelowDense} at or below dense; " +
                                             $"smallest gap {p.SmallestGap.Gap:F4} nats ({p.SmallestGap.ArchId}, kept {p.SmallestGap.ParamRatio:P1}); mean gap {p.MeanGap:F4}"));
        if (r.Sweep is { } s)
            Console.WriteLine(string.Create(inv, $"uniform table {s.File}: {s.Cuts} cuts, {s.AtOrBelowDense} task figures at or below dense; closest {s.ClosestCut} on {s.ClosestTask}: {s.ClosestRelativeGap:+0.0%;-0.0%} PPL"));
        Console.WriteLine(r.Holds ? "faithful: pruning only hurts" : "NOT faithful: some pruned model is at least as good as the dense one");
    }
}
