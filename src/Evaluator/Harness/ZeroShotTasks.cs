using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// The zero-shot task definitions of a data folder: every <c>&lt;task&gt;/task.json</c> under <c>eval/zeroshot/</c>
/// (or under the folder given, when it holds them directly).
/// </summary>
public static class ZeroShotTasks
{
    public const string DefinitionFile = "task.json";

    /// <summary>
    /// The seven tasks of the LLM-pruning papers' zero-shot tables (LLM-Pruner's column order); <c>--task
    /// zeroshot</c> evaluates and averages exactly these, so the average means the same whatever else is added.
    /// </summary>
    public static readonly IReadOnlyList<string> Suite =
        ["boolq", "piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"];

    public const string SuiteName = "zeroshot";

    /// <summary>The folder holding task folders: <paramref name="dataDir"/> itself or its <c>eval/zeroshot</c>.</summary>
    public static string Locate(string dataDir) => TryLocate(dataDir)
        ?? throw new UserError($"{dataDir}: no zero-shot task definitions (<task>/{DefinitionFile}) in it or in eval/zeroshot/");

    public static string? TryLocate(string dataDir)
    {
        string inside = Path.Combine(dataDir, "eval", "zeroshot");
        return HasDefinitions(inside) ? inside : HasDefinitions(dataDir) ? dataDir : null;
    }

    static bool HasDefinitions(string dir) =>
        Directory.Exists(dir) && Directory.EnumerateDirectories(dir).Any(d => File.Exists(Path.Combine(d, DefinitionFile)));

    /// <summary>Every definition in the folder, by task name.</summary>
    public static IReadOnlyDictionary<string, TaskDefinition> Discover(string folder)
    {
        var tasks = new SortedDictionary<string, TaskDefinition>(StringComparer.Ordinal);
        foreach (string path in Directory.GetDirectories(folder).Order(StringComparer.Ordinal)
                     .Select(d => Path.Combine(d, DefinitionFile)).Where(File.Exists))
        {
            var definition = TaskDefinition.Load(path);
            if (!tasks.TryAdd(definition.Task, definition))
                throw new UserError($"{path}: task '{definition.Task}' is defined twice (also {tasks[definition.Task].DataFile})");
        }
        return tasks;
    }

    /// <summary>The definitions a --task value names: one task, or the whole suite for "zeroshot".</summary>
    public static IReadOnlyList<TaskDefinition> Resolve(string folder, string name)
    {
        var all = Discover(folder);
        if (name == SuiteName)
            return Suite.Select(t => all.TryGetValue(t, out var d) ? d
                : throw new UserError($"{folder}: the zero-shot suite needs task '{t}', which has no {t}/{DefinitionFile}")).ToList();
        return all.TryGetValue(name, out var definition) ? [definition]
            : throw new UserError($"unknown task '{name}' (known: {string.Join(", ", KnownNames(all.Keys))})");
    }

    /// <summary>Whether <paramref name="name"/> is a zero-shot task name or the suite.</summary>
    public static bool IsKnown(string folder, string name) => name == SuiteName || Discover(folder).ContainsKey(name);

    static IEnumerable<string> KnownNames(IEnumerable<string> tasks) => new[] { SuiteName }.Concat(tasks);
}
