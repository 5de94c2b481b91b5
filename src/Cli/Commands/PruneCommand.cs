using System.CommandLine;
using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Recovery;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune prune</c> and <c>nasprune export</c>: prune a model to a budget (uniform or random baseline) or to a
/// given architecture, optionally recover (least squares, LoRA), evaluate before/after, and write the result as
/// a Hugging Face checkpoint with smaller tensors.
/// </summary>
public static class PruneCommand
{
    sealed class Options
    {
        public readonly Option<string?> Model = CliOptions.Model();
        public readonly Option<string> Criterion = CliOptions.Criterion();
        public readonly Option<bool> Uniform = new("--uniform") { Description = "the same keep ratio in every layer (default method)" };
        public readonly Option<bool> Random = new("--random") { Description = "a random architecture at the budget (--seed)" };
        public readonly Option<string?> Arch = new("--arch") { Description = "an architecture JSON file (docs/ARCHITECTURE.md)" };
        public readonly Option<double> Remove = new("--remove") { Description = "share of the parameters to remove, in (0, 1)", DefaultValueFactory = _ => 0.2 };
        public readonly Option<string?> Out = new("--out") { Description = "write the pruned model into this directory (--format)" };
        public readonly Option<string> Format = new("--format")
        {
            Description = "--out format: hf (safetensors checkpoint + tokenizer) or gguf (one llama.cpp file, model.gguf)",
            DefaultValueFactory = _ => "hf",
        };
        public readonly Option<string> GgufType = new("--gguf-type")
        {
            Description = $"GGUF weight type: {string.Join(", ", GgufExport.Types)} (norms are always f32)",
            DefaultValueFactory = _ => "f32",
        };
        public readonly Option<bool> Force = new("--force") { Description = "replace an existing --out directory" };
        public readonly Option<string> Recover = new("--recover")
        {
            Description = "recovery after pruning: none, ls (least-squares output projections), lora, ls+lora",
            DefaultValueFactory = _ => "none",
        };
        public readonly Option<string?> Corpus = new("--corpus") { Description = "training text directory for LoRA (default: data/train-corpus)" };
        public readonly Option<int> LoraSteps = new("--lora-steps") { Description = "LoRA optimizer steps", DefaultValueFactory = _ => new LoraOptions().Steps };
        public readonly Option<int> LoraRank = new("--lora-rank") { Description = "LoRA rank", DefaultValueFactory = _ => new LoraOptions().Rank };
        public readonly Option<double> LoraLr = new("--lora-lr") { Description = "LoRA learning rate", DefaultValueFactory = _ => new LoraOptions().LearningRate };
        public readonly Option<int> CalibrationSequences = new("--calibration-sequences")
        {
            Description = "calibration windows drawn from the validation split (importance, least squares)",
            DefaultValueFactory = _ => new CalibrationSettings().Sequences,
        };
        public readonly Option<string> CalibrationTask = new("--calibration-task")
        {
            Description = "validation split used for calibration: wikitext2 or ptb",
            DefaultValueFactory = _ => "wikitext2",
        };
        public readonly Option<int> SeqLen = CliOptions.SeqLen();
        public readonly Option<string> Split = new("--split") { Description = "split of the before/after perplexities", DefaultValueFactory = _ => "test" };
        public readonly Option<int?> EvalWindows = new("--eval-windows") { Description = "evaluate only the first N windows of each split" };
        public readonly Option<long> Seed = CliOptions.Seed();
        public readonly Option<string> Device = CliOptions.Device();
        public readonly Option<bool> Json = CliOptions.Json();
        public readonly Option<string?> Data = CliOptions.Data();

        public IEnumerable<Option> All => [Model, Criterion, Uniform, Random, Arch, Remove, Out, Format, GgufType, Force, Recover, Corpus, LoraSteps,
            LoraRank, LoraLr, CalibrationSequences, CalibrationTask, SeqLen, Split, EvalWindows, Seed, Device, Json, Data];
    }

    public static Command Create() => Build("prune",
        "Prune a model to a budget (uniform or random) or to an architecture, optionally recover, evaluate and export", requireArch: false);

    public static Command CreateExport() => Build("export",
        "Write the pruned model of an architecture (--arch) into --out as a Hugging Face checkpoint with smaller tensors or a llama.cpp GGUF file (--format)", requireArch: true);

    static Command Build(string name, string description, bool requireArch)
    {
        var o = new Options();
        var command = new Command(name, description);
        foreach (var option in o.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            if (requireArch && (parse.GetValue(o.Arch) is null || parse.GetValue(o.Out) is null))
                throw new UserError($"{name} needs --arch FILE and --out DIR");
            var result = Run(parse, o);
            if (parse.GetValue(o.Json)) Output.WriteJson(result);
            else Print(result);
            return 0;
        });
        return command;
    }

    static PruneReport Run(ParseResult parse, Options o)
    {
        string dataDir = DataDirectory.Resolve(parse.GetValue(o.Data));
        string modelDir = parse.GetValue(o.Model) ?? DataDirectory.DefaultModel(dataDir);
        string? outDir = parse.GetValue(o.Out) is { } od ? Path.GetFullPath(od) : null;
        if (outDir is not null) OutputDirectory.CheckWritable(outDir, parse.GetValue(o.Force));
        var format = ExportFormat.Parse(parse.GetValue(o.Format)!, parse.GetValue(o.GgufType)!);
        int methods = (parse.GetValue(o.Uniform) ? 1 : 0) + (parse.GetValue(o.Random) ? 1 : 0) + (parse.GetValue(o.Arch) is null ? 0 : 1);
        if (methods > 1) throw new UserError("choose one of --uniform, --random and --arch");
        int? evalWindows = parse.GetValue(o.EvalWindows);
        if (evalWindows is <= 0) throw new UserError($"--eval-windows {evalWindows}: must be positive");
        long seed = parse.GetValue(o.Seed);
        var lora = new LoraOptions { Steps = parse.GetValue(o.LoraSteps), Rank = parse.GetValue(o.LoraRank), LearningRate = parse.GetValue(o.LoraLr), Seed = seed };
        var recovery = RecoveryPlan.Parse(parse.GetValue(o.Recover)!, new ReconstructionOptions(), lora,
            parse.GetValue(o.Corpus) ?? Path.Combine(dataDir, "train-corpus"));
        if (recovery.Lora) lora.Validate();
        var calibration = new CalibrationSettings(PerplexityTask.Get(parse.GetValue(o.CalibrationTask)!).Name, parse.GetValue(o.CalibrationSequences), ImportanceCommand.CheckSeqLen(parse.GetValue(o.SeqLen)), seed);
        if (calibration.Sequences <= 0) throw new UserError($"--calibration-sequences {calibration.Sequences}: must be positive");
        var split = PerplexityTask.ParseSplit(parse.GetValue(o.Split)!);
        var device = DeviceChoice.Resolve(parse.GetValue(o.Device));

        // A family GGUF cannot express is refused before minutes of importance and evaluation, not after them.
        if (format.Gguf && outDir is not null) GgufExport.CheckExpressible(HfCheckpoint.LoadConfig(modelDir));
        using var prepared = PreparedModel.Prepare(modelDir, dataDir, parse.GetValue(o.Criterion)!, calibration, device, log: Output.Log);
        var config = prepared.Model.Config;
        string method;
        double? budget = null;
        Architecture architecture;
        if (parse.GetValue(o.Arch) is { } archFile)
        {
            method = "arch";
            architecture = Architecture.Load(archFile);
        }
        else
        {
            budget = parse.GetValue(o.Remove);
            method = parse.GetValue(o.Random) ? "random" : "uniform";
            architecture = method == "random" ? prepared.Space.Random(budget.Value, new Random((int)seed)) : prepared.Space.Uniform(budget.Value);
        }

        var reporter = Output.Reporter;
        var before = CandidatePipeline.PerplexitiesInPlace(prepared, architecture, split, evalWindows, "pruned", reporter);
        var result = new PruneReport(Path.GetFullPath(modelDir), prepared.ModelHash, prepared.Scores.Criterion, method, budget,
            architecture.Id, architecture.Params(config), config.TotalParams, architecture.ParamRatio(config),
            architecture.ForwardFlopsPerToken(config, prepared.SeqLen), config.ForwardFlopsPerToken(prepared.SeqLen),
            recovery.Name, calibration, before, null, outDir, architecture.ToJson());
        if (!recovery.IsNone || outDir is not null)
        {
            using var pruned = CandidatePipeline.ExtractAndRecover(prepared, architecture, recovery, reporter, "pruned");
            if (!recovery.IsNone)
                result = result with { After = CandidatePipeline.Perplexities(prepared, pruned, split, evalWindows, $"pruned + {recovery.Name}", reporter) };
            if (outDir is not null)
            {
                // prune.json and the model card are written inside the staging folder, so they publish with the weights.
                ModelExport.Write(prepared, pruned, architecture, outDir, format, new Dictionary<string, string>
                {
                    ["prune.json"] = Output.ToJson(result) + "\n",
                    ["README.md"] = ModelCard.Render(result, architecture.ToConfig(config), format, Environment.GetCommandLineArgs().Skip(1)),
                });
                // Which llama.cpp architecture the GGUF is, and any zero heads/channels it carries, so no one is surprised by its size.
                Output.Log(format.Gguf ? $"wrote {outDir}: {GgufLayout.For(pruned.Config).Summary}" : $"wrote {outDir}");
            }
        }
        return result;
    }

    static void Print(PruneReport r)
    {
        Console.WriteLine($"{r.Method} pruning of {r.Model} ({r.Criterion}): architecture {r.ArchitectureId}, {r.Params:N0} of {r.BaseParams:N0} parameters ({r.ParamRatio:P1}), " +
                          $"{r.FlopsPerToken / 1e6:F1} of {r.BaseFlopsPerToken / 1e6:F1} MFLOP/token");
        foreach (var p in r.Before) Console.WriteLine($"  {p.Task} {p.Split}: ppl {p.Ppl:F3} (pruned, {p.Windows} windows)");
        if (r.After is not null)
            foreach (var p in r.After) Console.WriteLine($"  {p.Task} {p.Split}: ppl {p.Ppl:F3} (after {r.Recovery})");
        if (r.Out is not null) Console.WriteLine($"  checkpoint: {r.Out}");
    }
}
