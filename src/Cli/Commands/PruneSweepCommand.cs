using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using NasPrune.Common;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Recovery;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune prune-sweep</c>: uniform pruning at several budgets with several criteria and recoveries, evaluated on
/// WikiText-2, PTB and held-out general English — the LLM-Pruner Table-1 analogue for a model. One process: each criterion's importance is
/// computed (or read from the cache) once and the model reordered once. Writes results.json and table.md.
/// </summary>
public static class PruneSweepCommand
{
    public sealed record SweepRow(string Criterion, double BudgetRemoved, string Recovery, string ArchitectureId, long Params,
        double ParamRatio, double WikiText2Ppl, double PtbPpl, double HeldOutPpl, int WikiText2Windows, int PtbWindows, int HeldOutWindows, double Seconds);
    public sealed record SweepResult(string Model, string ModelHash, long BaseParams, string Split, int SeqLen, int? EvalWindows,
        CalibrationSettings Calibration, int LoraSteps, double LoraLearningRate, double DenseWikiText2Ppl, double DensePtbPpl, double DenseHeldOutPpl, IReadOnlyList<SweepRow> Rows);

    public static Command Create()
    {
        var model = CliOptions.Model();
        var criteria = new Option<string[]>("--criteria")
        {
            Description = "importance criteria (or 'all')", DefaultValueFactory = _ => ["all"], AllowMultipleArgumentsPerToken = true,
        };
        var budgets = new Option<double[]>("--budgets")
        {
            Description = "shares of parameters to remove", DefaultValueFactory = _ => [0.2, 0.5], AllowMultipleArgumentsPerToken = true,
        };
        var recover = new Option<string[]>("--recover")
        {
            Description = "recoveries to compare (none, ls, lora, ls+lora)", DefaultValueFactory = _ => ["none", "ls", "lora"],
            AllowMultipleArgumentsPerToken = true,
        };
        var loraSteps = new Option<int>("--lora-steps") { Description = "LoRA optimizer steps", DefaultValueFactory = _ => 200 };
        var loraLr = new Option<double>("--lora-lr") { Description = "LoRA peak learning rate", DefaultValueFactory = _ => new LoraOptions().LearningRate };
        var evalWindows = new Option<int?>("--eval-windows") { Description = "evaluate only the first N windows of each split" };
        var output = new Option<string>("--out") { Description = "folder for results.json and table.md", Required = true };
        var split = new Option<string>("--split") { Description = "evaluation split", DefaultValueFactory = _ => "test" };
        var seed = CliOptions.Seed();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("prune-sweep", "Uniform pruning across criteria, budgets and recoveries on WikiText-2, PTB and held-out general English (results.json, table.md)")
        {
            model, criteria, budgets, recover, loraSteps, loraLr, evalWindows, output, split, seed, device, json, data,
        };
        command.SetAction(parse =>
        {
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            var names = parse.GetValue(criteria)!.SelectMany(c => c == "all" ? ImportanceCriteria.Names : [ImportanceCriteria.Get(c).Name]).Distinct().ToList();
            long s = parse.GetValue(seed);
            int steps = parse.GetValue(loraSteps);
            // Warm up over a tenth of a short run (LLM-Pruner's 100 warmup steps assume ~1,500 steps).
            var lora = new LoraOptions { Steps = steps, WarmupSteps = Math.Clamp(steps / 10, 1, 100), LearningRate = parse.GetValue(loraLr), Seed = s };
            var plans = parse.GetValue(recover)!.Select(r => RecoveryPlan.Parse(r, new ReconstructionOptions(), lora, Path.Combine(dataDir, "train-corpus"))).ToList();
            var shares = parse.GetValue(budgets)!;
            int? windows = parse.GetValue(evalWindows);
            if (windows is <= 0) throw new UserError($"--eval-windows {windows}: must be positive");
            var sp = PerplexityTask.ParseSplit(parse.GetValue(split)!);
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            var calibration = new CalibrationSettings(Seed: s);
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(outDir);

            var rows = new List<SweepRow>();
            double denseWiki = double.NaN, densePtb = double.NaN, denseHeldOut = double.NaN;
            long baseParams = 0;
            string hash = "";
            int seqLen = 0;
            SweepResult Snapshot() => new(Path.GetFullPath(modelDir), hash, baseParams, sp.ToString().ToLowerInvariant(), seqLen, windows,
                calibration, lora.Steps, lora.LearningRate, denseWiki, densePtb, denseHeldOut, rows.ToList());
            foreach (var criterion in names)
            {
                using var prepared = PreparedModel.Prepare(modelDir, dataDir, criterion, calibration, dev, log: Output.Log);
                foreach (double budget in shares) prepared.Space.TargetParams(budget); // validate all budgets before the long work
                var config = prepared.Model.Config;
                (baseParams, hash, seqLen) = (config.TotalParams, prepared.ModelHash, config.MaxPositionEmbeddings);
                if (double.IsNaN(denseWiki))
                {
                    var dense = PruneCommand.Evaluate(prepared, prepared.Model, sp, windows, "dense");
                    (denseWiki, densePtb, denseHeldOut) = (dense[0].Ppl, dense[1].Ppl, dense[2].Ppl);
                }
                foreach (double budget in shares)
                {
                    var arch = prepared.Space.Uniform(budget);
                    foreach (var plan in plans)
                    {
                        var watch = Stopwatch.StartNew();
                        IReadOnlyList<PerplexityResult> ppl;
                        string label = $"{criterion} -{budget:P0} {plan.Name}";
                        if (plan.Name == "none")
                        {
                            prepared.Apply(arch);
                            ppl = PruneCommand.Evaluate(prepared, prepared.Model, sp, windows, label);
                            prepared.Reset();
                        }
                        else
                        {
                            using var pruned = prepared.Extract(arch);
                            plan.Run(prepared, pruned, Output.Log);
                            ppl = PruneCommand.Evaluate(prepared, pruned, sp, windows, label);
                        }
                        var row = new SweepRow(criterion, budget, plan.Name, arch.Id, arch.Params(config), arch.ParamRatio(config),
                            ppl[0].Ppl, ppl[1].Ppl, ppl[2].Ppl, ppl[0].Windows, ppl[1].Windows, ppl[2].Windows, watch.Elapsed.TotalSeconds);
                        rows.Add(row);
                        Output.Log(string.Create(CultureInfo.InvariantCulture, $"{label}: wikitext2 {row.WikiText2Ppl:F2}, ptb {row.PtbPpl:F2}, heldout {row.HeldOutPpl:F2} ({row.Seconds:F0} s)"));
                        // Rewritten after every row, atomically: an interrupted sweep keeps what it measured.
                        AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), Output.ToJson(Snapshot()) + "\n");
                    }
                }
            }
            var result = Snapshot();
            AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), Output.ToJson(result) + "\n");
            AtomicFile.WriteAllText(Path.Combine(outDir, "table.md"), Table(result, string.Join(' ', Environment.GetCommandLineArgs().Skip(1))));
            if (parse.GetValue(json)) Output.WriteJson(result);
            else Console.Write(Table(result, null));
            return 0;
        });
        return command;
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
