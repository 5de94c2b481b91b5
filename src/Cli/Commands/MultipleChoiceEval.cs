using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Cli.Commands;

/// <summary>What <c>nasprune eval</c> was asked to run when the task is multiple choice.</summary>
/// <param name="BatchSize">--batch-size when given; null: the task's default.</param>
public sealed record MultipleChoiceRequest(
    string Task, string? TaskFile, string? DataArgument, string? ModelDir, int? SeqLen, int? Shots, int? Limit,
    int? BatchSize, ScoringMode Scoring, string? Device, string? Dtype, bool Json, string? ArchFile = null, string Criterion = "activation", long Seed = 1234);

/// <summary>
/// <c>nasprune eval</c> for MMLU, the zero-shot tasks, BLiMP and user task files, with lm-evaluation-harness's prompts and
/// scoring (<see cref="LogLikelihoodScorer"/>). Data are read and checked before the model loads, so a malformed
/// row fails in a second rather than after loading a large checkpoint.
/// </summary>
public static class MultipleChoiceEval
{
    public const string Mmlu = "mmlu";
    const int DefaultMmluShots = 5;
    const int DefaultRowsPerForward = 8;

    public static int Run(MultipleChoiceRequest r)
    {
        if (r.Limit is <= 0) throw new UserError($"--limit {r.Limit}: must be positive");
        if (r.BatchSize <= 0) throw new UserError($"--batch-size {r.BatchSize}: must be positive");
        int rowsPerForward = r.BatchSize ?? DefaultRowsPerForward;
        string dataDir = DataDirectory.Resolve(r.DataArgument);

        // Everything that reads data happens here, before the model exists.
        Func<LogLikelihoodScorer, HarnessReport, HarnessReport> evaluate;
        if (r.TaskFile is null && r.Task == Mmlu)
        {
            int shots = r.Shots ?? DefaultMmluShots;
            if (shots < 0) throw new UserError($"--shots {shots}: must be 0 or more");
            var subjects = MmluDataset.Load(MmluDataset.Locate(dataDir), shots, r.Limit);
            int total = subjects.Sum(s => s.Test.Count);
            evaluate = (scorer, report) => report with
            {
                Mmlu = Output.WithProgress($"mmlu {shots}-shot", total, progress => MmluEvaluator.Evaluate(scorer, subjects, shots, progress)),
            };
        }
        else if (r.TaskFile is null && BlimpDataset.IsTask(r.Task))
        {
            if (r.Shots is int s && s != 0) throw new UserError($"--shots {s}: BLiMP compares two sentences without any prompt; it has no shots");
            string folder = BlimpDataset.Locate(dataDir);
            var (task, names) = BlimpDataset.Resolve(folder, r.Task);
            rowsPerForward = r.BatchSize ?? BlimpEvaluator.RowsPerForward;
            var paradigms = BlimpDataset.Load(folder, names, r.Limit);
            evaluate = (scorer, report) => report with
            {
                Blimp = Output.WithProgress(task, paradigms.Sum(p => p.Pairs.Count),
                    progress => BlimpEvaluator.Evaluate(scorer, paradigms, task, progress)),
            };
        }
        else
        {
            if (r.Shots is int s && s != 0)
                throw new UserError($"--shots {s}: few-shot prompts are for mmlu; the zero-shot tasks are evaluated 0-shot, as the papers report them");
            IReadOnlyList<TaskDefinition> tasks = r.TaskFile is string file ? [LoadTaskFile(file)] : ZeroShotTasks.Resolve(ZeroShotTasks.Locate(dataDir), r.Task);
            var items = tasks.Select(t => t.LoadItems(r.Limit)).ToList();
            evaluate = (scorer, report) =>
            {
                var results = tasks.Select((t, i) => Output.WithProgress($"{t.Task} {t.Split}", items[i].Count,
                    progress => MultipleChoiceEvaluator.Evaluate(scorer, t, items[i], progress))).ToList();
                return report with { Tasks = results, Average = results.Count > 1 ? MultipleChoiceAverage.Of(results) : null };
            };
        }

        string modelDir = r.ModelDir ?? DefaultModel(dataDir);
        var config = HfCheckpoint.LoadConfig(modelDir);
        int maxLength = r.SeqLen ?? config.MaxPositionEmbeddings;
        if (maxLength < 2 || maxLength > config.MaxPositionEmbeddings)
            throw new UserError($"--seq-len {maxLength}: must be between 2 and the model's max_position_embeddings {config.MaxPositionEmbeddings}");
        var tokenizer = TokenizerLoader.Load(modelDir);
        var encoder = new RequestEncoder(tokenizer, maxLength);
        var device = DeviceChoice.Resolve(r.Device);
        using var evaluated = EvaluatedModel.Load(modelDir, dataDir, r.ArchFile, r.Criterion, r.Seed, device, DeviceChoice.ResolveDtype(r.Dtype, device));
        var scorer = new LogLikelihoodScorer(evaluated.Model, encoder, rowsPerForward, r.Scoring);
        var report = evaluate(scorer, new HarnessReport(evaluated.Identity, tokenizer.Description, maxLength, r.Limit,
            r.Scoring == ScoringMode.Batched ? "batched" : "unbatched"));
        if (r.Json) Output.WriteJson(report);
        else Print(report);
        return 0;
    }

    /// <summary>--task-file: a JSON Lines file of questions, or a task definition (.json) of one's own.</summary>
    static TaskDefinition LoadTaskFile(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: task file not found");
        return Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase)
            ? TaskDefinition.Load(path)
            : TaskDefinition.ForJsonl(path);
    }

    /// <summary>
    /// The embedded model of the data folder; when --data points straight at an MMLU or zero-shot folder (which
    /// has no models/), the embedded model of the repository's own data folder.
    /// </summary>
    static string DefaultModel(string dataDir) =>
        Directory.Exists(Path.Combine(dataDir, "models")) ? DataDirectory.DefaultModel(dataDir) : DataDirectory.DefaultModel();

    static void Print(HarnessReport report)
    {
        foreach (var t in report.Tasks ?? [])
            Console.WriteLine($"{t.Task} {t.Split} {t.Shots}-shot: acc {t.Acc:F4}  acc_norm {t.AccNorm:F4}  " +
                              $"(n {t.N}, papers report {t.Metric}, {t.TruncatedContexts} truncated contexts" +
                              (t.TruncatedContinuations > 0 ? $", {t.TruncatedContinuations} continuations longer than the context" : "") +
                              $", {t.Seconds:F1} s)");
        if (report.Average is { } a)
            Console.WriteLine($"average over {a.Tasks} tasks: acc {a.Acc:F4}  acc_norm {a.AccNorm:F4}  reported metrics {a.Reported:F4}");
        if (report.Mmlu is { } m)
        {
            foreach (var s in m.Subjects)
                Console.WriteLine($"  {s.Subject,-40} acc {s.Acc:F4}  (n {s.N}{(s.PromptsWithDroppedShots > 0 ? $", {s.PromptsWithDroppedShots} prompts lost shots" : "")})");
            Console.WriteLine($"mmlu {m.Split} {m.Shots}-shot: acc {m.Acc:F4} (micro, all questions)  macro {m.MacroAcc:F4} (mean of {m.Subjects.Count} subjects)  " +
                              $"(n {m.N}; {m.PromptsWithDroppedShots} prompts lost {m.DroppedShots} shots to fit {report.SeqLen} tokens, " +
                              $"{m.TruncatedPrompts} truncated; {m.Seconds:F1} s)");
        }
        if (report.Blimp is { } b)
        {
            foreach (var p in b.Paradigms)
                Console.WriteLine($"  {p.Paradigm,-52} {p.Field,-16} acc {p.Acc:F4}  (n {p.N}" +
                                  (p.Ties > 0 ? $", {p.Ties} ties" : "") + (p.TruncatedPairs > 0 ? $", {p.TruncatedPairs} truncated" : "") + ")");
            foreach (var f in b.Fields)
                Console.WriteLine($"{f.Field,-16} acc {f.Acc:F4}  (mean of {f.Paradigms} paradigms, n {f.N})");
            Console.WriteLine($"{b.Task}: acc {b.Acc:F4} (mean of {b.Paradigms.Count} paradigms)  (n {b.N} pairs, {b.Ties} ties counted wrong, " +
                              $"{b.TruncatedPairs} truncated; {b.Seconds:F1} s)");
        }
        Console.WriteLine($"model {report.ModelHash}, {report.Tokenizer}, context {report.SeqLen} tokens, scoring {report.Scoring}" +
                          (report.Limit is int l ? $", first {l} questions per task/subject/paradigm" : ""));
    }
}
