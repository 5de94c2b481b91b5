using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune eval</c>: perplexity on WikiText-2 or PTB, or multiple-choice accuracy (MMLU k-shot, the zero-shot
/// tasks, BLiMP, a user's task file) with lm-evaluation-harness's conventions, each under a recorded protocol.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var task = new Option<string>("--task")
        {
            Description = "perplexity: wikitext2, ptb; multiple choice: mmlu, boolq, piqa, hellaswag, winogrande, arc_easy, " +
                          "arc_challenge, openbookqa, or zeroshot (those seven and their average); blimp (67 grammatical minimal-pair paradigms, " +
                          "mean accuracy) or blimp_<paradigm> (one)",
            DefaultValueFactory = _ => "wikitext2",
        };
        var split = new Option<string>("--split")
        {
            Description = "perplexity: test (final verification) or validation (calibration and search); multiple-choice tasks use their fixed split",
            DefaultValueFactory = _ => "test",
        };
        var taskFile = new Option<string?>("--task-file")
        {
            Description = "multiple choice from a file: JSON Lines of {\"context\": ..., \"choices\": [...], \"gold\": i}, or a task definition (.json)",
        };
        var shots = new Option<int?>("--shots") { Description = "mmlu: few-shot examples per prompt (default 5)" };
        var limit = new Option<int?>("--limit") { Description = "multiple choice: score only the first N questions of each task / subject (pairs of each BLiMP paradigm)" };
        var scoring = new Option<string>("--scoring")
        {
            Description = "multiple choice: batched (a question's choices in one forward pass, shared prompts computed once) " +
                          "or unbatched (one forward pass per continuation; the reference, for checks and timing)",
            DefaultValueFactory = _ => "batched",
        };
        var seqLen = new Option<int?>("--seq-len")
        {
            Description = "window length (perplexity); the context prompts must fit (multiple choice); default: the model's context length",
        };
        var protocol = new Option<string?>("--protocol") { Description = "llm-pruner: 128-token windows, as LLM-Pruner reports" };
        var arch = new Option<string?>("--arch") { Description = "evaluate this pruning candidate (architecture JSON) of --model, applied in place" };
        var criterion = CliOptions.Criterion("with --arch: the importance criterion that orders heads and channels");
        var maxWindows = new Option<int?>("--max-windows") { Description = "evaluate only the first N windows" };
        var batch = new Option<int>("--batch-size")
        {
            Description = "windows per forward pass (perplexity); rows per forward pass (multiple choice; BLiMP's short sentences default to 64)",
            DefaultValueFactory = _ => 8,
        };
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype();
        var seed = CliOptions.Seed();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        data.Description += "; for mmlu also a folder in MMLU's own layout (dev/, test/)";
        var command = new Command("eval",
            "Perplexity on WikiText-2 or PTB (non-overlapping windows, mean token NLL), or multiple-choice accuracy " +
            "(MMLU k-shot, zero-shot tasks, BLiMP minimal pairs) as lm-evaluation-harness computes it")
        {
            model, arch, criterion, task, taskFile, split, seqLen, protocol, maxWindows, shots, limit, scoring, batch, device, dtype, seed, json, data,
        };
        command.SetAction(parse =>
        {
            string taskName = parse.GetValue(task)!.ToLowerInvariant();
            string? file = parse.GetValue(taskFile);
            if (file is not null && parse.GetResult(task) is { Implicit: false })
                throw new UserError("--task and --task-file: give one of them");
            if (file is not null || !PerplexityTask.All.Any(t => t.Name == taskName))
            {
                string name = ValidateTaskName(taskName, file, parse.GetValue(data));
                if (parse.GetValue(protocol) is string p) throw new UserError($"--protocol {p}: a perplexity setting; multiple-choice tasks fit prompts to --seq-len");
                if (parse.GetValue(maxWindows) is int w) throw new UserError($"--max-windows {w}: a perplexity setting; use --limit for multiple-choice tasks");
                TorchSharp.torch.manual_seed(parse.GetValue(seed));
                return MultipleChoiceEval.Run(new MultipleChoiceRequest(name, file,
                    parse.GetValue(data), parse.GetValue(model), parse.GetValue(seqLen), parse.GetValue(shots), parse.GetValue(limit),
                    parse.GetResult(batch) is { Implicit: false } ? parse.GetValue(batch) : null, ParseScoring(parse.GetValue(scoring)!), parse.GetValue(device), parse.GetValue(dtype), parse.GetValue(json),
                    parse.GetValue(arch), parse.GetValue(criterion)!, parse.GetValue(seed)));
            }
            if (parse.GetValue(shots) is not null || parse.GetValue(limit) is not null)
                throw new UserError($"--shots / --limit: multiple-choice settings; {taskName} is a perplexity task (use --max-windows)");
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            var t = PerplexityTask.Get(parse.GetValue(task)!);
            var s = PerplexityTask.ParseSplit(parse.GetValue(split)!);
            int? windows = parse.GetValue(maxWindows);
            if (windows is <= 0) throw new UserError($"--max-windows {windows}: must be positive");
            int batchSize = parse.GetValue(batch);
            if (batchSize <= 0) throw new UserError($"--batch-size {batchSize}: must be positive");

            var config = HfCheckpoint.LoadConfig(modelDir);
            int length = ResolveSeqLen(parse.GetValue(seqLen), parse.GetValue(protocol), config);
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            TorchSharp.torch.manual_seed(parse.GetValue(seed));
            var tokenizer = TokenizerLoader.Load(modelDir);
            var loadWatch = System.Diagnostics.Stopwatch.StartNew();
            using var evaluated = EvaluatedModel.Load(modelDir, dataDir, parse.GetValue(arch), parse.GetValue(criterion)!, parse.GetValue(seed),
                dev, DeviceChoice.ResolveDtype(parse.GetValue(dtype), dev));
            var lm = evaluated.Model;
            long weightBytes = lm.parameters().Sum(p => p.numel() * p.element_size());
            Output.Log($"model loaded in {loadWatch.Elapsed.TotalSeconds:F1} s: weights {weightBytes / (double)(1L << 30):F2} GiB in {lm.parameters().First().dtype}; " +
                       $"{Evaluator.Runtime.ProcessMemory.Describe()}");
            var ids = tokenizer.Encode(t.LoadText(dataDir, s));
            int total = Math.Min(ids.Length / length, windows ?? int.MaxValue);
            var result = Output.WithProgress($"{t.Name} {s.ToString().ToLowerInvariant()}", total,
                progress => PerplexityEvaluator.Evaluate(lm, ids, t.Name, s.ToString().ToLowerInvariant(), length, batchSize, windows, progress))
                with { Tokenizer = tokenizer.Description, ModelHash = evaluated.Identity, Text = t.Description };
            Output.Log($"evaluated: {Evaluator.Runtime.ProcessMemory.Describe()}; logits chunk {lm.ChunkTokens} positions x {lm.Config.VocabSize} ids");
            if (parse.GetValue(json)) Output.WriteJson(result);
            else
                Console.WriteLine($"{result.Task} {result.Split}: ppl {result.Ppl:F3}  (nll {result.Nll:F5}, {result.Windows} windows x {result.SeqLen} tokens, " +
                                  $"{result.Tokens} predicted tokens, {result.Seconds:F1} s, model {result.ModelHash})");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// A task that is neither perplexity nor known multiple choice is a user's typo: one line listing every task
    /// (the zero-shot names come from the data folder's definitions).
    /// </summary>
    static string ValidateTaskName(string name, string? taskFile, string? dataArgument)
    {
        if (taskFile is not null || name == MultipleChoiceEval.Mmlu) return name;
        string dataDir = DataDirectory.Resolve(dataArgument);
        if (BlimpDataset.IsTask(name))
        {
            BlimpDataset.Resolve(BlimpDataset.Locate(dataDir), name); // an unknown paradigm lists the known ones
            return name;
        }
        string? folder = ZeroShotTasks.TryLocate(dataDir);
        if (folder is not null && ZeroShotTasks.IsKnown(folder, name)) return name;
        var multipleChoice = new[] { MultipleChoiceEval.Mmlu, ZeroShotTasks.SuiteName }
            .Concat(folder is null ? [] : ZeroShotTasks.Discover(folder).Keys)
            .Concat([BlimpDataset.SuiteName, BlimpDataset.TaskPrefix + "<paradigm>"]);
        throw new UserError($"unknown task '{name}' (perplexity: {string.Join(", ", PerplexityTask.All.Select(t => t.Name))}; " +
                            $"multiple choice: {string.Join(", ", multipleChoice)})");
    }

    static ScoringMode ParseScoring(string name) => name.ToLowerInvariant() switch
    {
        "batched" => ScoringMode.Batched,
        "unbatched" => ScoringMode.OneForwardPerContinuation,
        _ => throw new UserError($"--scoring {name}: expected batched or unbatched"),
    };

    /// <summary>--seq-len, else the protocol's, else the model's context length.</summary>
    public static int ResolveSeqLen(int? seqLen, string? protocol, ModelConfig config)
    {
        int length = protocol switch
        {
            null => seqLen ?? config.MaxPositionEmbeddings,
            "llm-pruner" => seqLen ?? 128,
            _ => throw new UserError($"--protocol {protocol}: known protocols: llm-pruner"),
        };
        if (length < 2 || length > config.MaxPositionEmbeddings)
            throw new UserError($"--seq-len {length}: must be between 2 and the model's max_position_embeddings {config.MaxPositionEmbeddings}");
        return length;
    }
}
