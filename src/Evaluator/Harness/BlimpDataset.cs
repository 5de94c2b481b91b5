using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>One BLiMP minimal pair: an acceptable sentence and its minimally different unacceptable twin.</summary>
/// <param name="PairId">The release's <c>pairID</c> (a string, "0"–"999").</param>
/// <param name="Source">File and line, for errors.</param>
public sealed record BlimpPair(string PairId, string Good, string Bad, string Source);

/// <summary>One BLiMP paradigm (the release's <c>UID</c>, lm-evaluation-harness's <c>blimp_&lt;UID&gt;</c> task).</summary>
/// <param name="Field">morphology, syntax, semantics or syntax_semantics (see <see cref="BlimpDataset.NormalizeField"/>).</param>
public sealed record BlimpParadigm(string Name, string Field, string LinguisticsTerm, IReadOnlyList<BlimpPair> Pairs);

/// <summary>
/// BLiMP (Warstadt et al. 2020) as released: one JSON Lines file per paradigm, <c>&lt;UID&gt;.jsonl</c>, here
/// gzip-compressed as <c>&lt;UID&gt;.jsonl.gz</c> (plain files are read too, so a user's own copy works).
/// </summary>
public static class BlimpDataset
{
    /// <summary>--task blimp: all paradigms, averaged; --task blimp_&lt;UID&gt;: one.</summary>
    public const string SuiteName = "blimp";
    public const string TaskPrefix = "blimp_";

    static readonly string[] Extensions = [".jsonl.gz", ".jsonl"];

    public static bool IsTask(string name) => name == SuiteName || name.StartsWith(TaskPrefix, StringComparison.Ordinal);

    /// <summary>The BLiMP folder for a <c>--data</c> argument: its <c>eval/blimp</c>, or the folder itself when it holds the paradigm files.</summary>
    public static string Locate(string dataDir)
    {
        string inside = Path.Combine(dataDir, "eval", "blimp");
        if (Files(inside).Count > 0) return inside;
        if (Files(dataDir).Count > 0) return dataDir;
        throw new UserError($"{dataDir}: no BLiMP paradigm files (<UID>.jsonl.gz or <UID>.jsonl) in it or in eval/blimp/");
    }

    /// <summary>Paradigm name → its file, in ordinal name order.</summary>
    public static SortedDictionary<string, string> Files(string folder)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(folder)) return files;
        foreach (string path in Directory.GetFiles(folder))
        {
            string file = Path.GetFileName(path);
            string? extension = Extensions.FirstOrDefault(e => file.EndsWith(e, StringComparison.Ordinal));
            if (extension is null) continue;
            string name = file[..^extension.Length];
            // Two copies of one paradigm could differ; which one was scored must never be a guess.
            if (!files.TryAdd(name, path))
                throw new UserError($"{folder}: paradigm '{name}' is there twice ({Path.GetFileName(files[name])} and {file}); keep one");
        }
        return files;
    }

    /// <summary>
    /// The paradigms a --task value names (all of them for "blimp", one for "blimp_&lt;UID&gt;") and the task's name as
    /// the harness spells it. Paradigms match ignoring case: the command line lower-cases task names, and UIDs such
    /// as <c>principle_A_case_1</c> are unique without their case.
    /// </summary>
    public static (string Task, IReadOnlyList<string> Paradigms) Resolve(string folder, string task)
    {
        var files = Files(folder);
        if (task == SuiteName) return (SuiteName, files.Keys.ToList());
        string wanted = task.StartsWith(TaskPrefix, StringComparison.OrdinalIgnoreCase) ? task[TaskPrefix.Length..] : task;
        string name = files.Keys.FirstOrDefault(k => k.Equals(wanted, StringComparison.OrdinalIgnoreCase))
            ?? throw new UserError($"unknown task '{task}': {folder} has no BLiMP paradigm '{wanted}' (known: {string.Join(", ", files.Keys)})");
        return (TaskPrefix + name, [name]);
    }

    /// <summary>The first <paramref name="limit"/> pairs (all when null) of each named paradigm.</summary>
    public static IReadOnlyList<BlimpParadigm> Load(string folder, IReadOnlyList<string> paradigms, int? limit = null)
    {
        var files = Files(folder);
        return paradigms.Select(p => LoadParadigm(files.TryGetValue(p, out var path) ? path
            : throw new UserError($"{folder}: no BLiMP paradigm '{p}'"), limit)).ToList();
    }

    /// <summary>One paradigm file; a record that is not a BLiMP pair names its line and field.</summary>
    public static BlimpParadigm LoadParadigm(string path, int? limit = null)
    {
        string file = Path.GetFileName(path);
        string name = file[..^Extensions.First(e => file.EndsWith(e, StringComparison.Ordinal)).Length];
        var records = TaskRecords.ReadJsonl(path);
        if (records.Count == 0) throw new UserError($"{path}: no pairs");
        string? field = null, term = null;
        var pairs = new List<BlimpPair>();
        foreach (var record in records.Take(limit ?? int.MaxValue))
        {
            string Text(string key) => new FieldPath(key).ReadText(record.Fields, record.Where);
            string good = Text("sentence_good"), bad = Text("sentence_bad"), uid = Text("UID");
            if (good.Length == 0 || bad.Length == 0) throw new UserError($"{record.Where}: empty sentence_good or sentence_bad");
            // The file name is the task name; a record of another paradigm would be scored under the wrong one.
            if (uid != name) throw new UserError($"{record.Where}: field 'UID' is '{uid}', but the file is paradigm '{name}'");
            string recordField = NormalizeField(Text("field"));
            field ??= recordField;
            if (recordField != field) throw new UserError($"{record.Where}: field 'field' is '{recordField}', earlier lines say '{field}'");
            term ??= Text("linguistics_term");
            pairs.Add(new BlimpPair(Text("pairID"), good, bad, record.Where));
        }
        return new BlimpParadigm(name, field!, term!, pairs);
    }

    /// <summary>
    /// The release spells one field two ways: <c>principle_A_case_2</c> says <c>syntax/semantics</c>, the six other
    /// binding paradigms <c>syntax_semantics</c>. Reported as one field, as the paper's table has it.
    /// </summary>
    public static string NormalizeField(string field) => field.Replace('/', '_');
}
