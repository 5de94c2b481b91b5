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
        var output = new Option<string>("--out") { Description = "folder for results.json and table.md (an earlier sweep's are replaced only with --force)", Required = true };
        var force = new Option<bool>("--force") { Description = "replace the results.json and table.md of an earlier sweep in --out" };
        var split = new Option<string>("--split") { Description = "evaluation split", DefaultValueFactory = _ => "test" };
        var seed = CliOptions.Seed();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("prune-sweep", "Uniform pruning across criteria, budgets and recoveries on WikiText-2, PTB and held-out general English (results.json, table.md)")
        {
            model, criteria, budgets, recover, loraSteps, loraLr, evalWindows, output, force, split, seed, device, json, data,
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
            string outDir = OutputFile.CheckFolder(parse.GetValue(output)!);
            // The sweep rewrites results.json after every row: an earlier sweep's table in the folder is never lost silently.
            foreach (var name in new[] { "results.json", "table.md" })
                OutputFile.Check(Path.Combine(outDir, name), parse.GetValue(force));
            var result = PruningSweep.Run(new PruningSweepOptions(modelDir, dataDir, names, shares, plans, lora, sp, windows, calibration, dev, outDir,
                string.Join(' ', Environment.GetCommandLineArgs().Skip(1))), Output.Reporter);
            if (parse.GetValue(json)) Output.WriteJson(result);
            else Console.Write(PruningSweep.Table(result, null));
            return 0;
        });
        return command;
    }
}
