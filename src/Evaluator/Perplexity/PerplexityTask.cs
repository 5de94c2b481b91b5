using NasPrune.Common;

namespace NasPrune.Evaluator.Perplexity;

public enum Split { Validation, Test }

/// <summary>
/// A perplexity data set and how its text is joined before tokenization, following the LLM pruning papers'
/// loaders (LLM-Pruner, Wanda, SparseGPT): WikiText-2 rows joined by "\n\n", PTB sentences joined by " ".
/// Test splits are for final verification only; search and calibration use validation.
/// </summary>
public sealed record PerplexityTask(string Name, string Folder, string ValidationFile, string TestFile, string Separator, bool StripLines)
{
    public static readonly PerplexityTask WikiText2 = new("wikitext2", "wikitext-2", "wiki.valid.tokens", "wiki.test.tokens", "\n\n", false);
    public static readonly PerplexityTask Ptb = new("ptb", "ptb", "ptb.valid.txt", "ptb.test.txt", " ", true);
    public static readonly IReadOnlyList<PerplexityTask> All = [WikiText2, Ptb];

    public static PerplexityTask Get(string name) =>
        All.FirstOrDefault(t => t.Name == name.ToLowerInvariant())
        ?? throw new UserError($"unknown perplexity task '{name}' (known: {string.Join(", ", All.Select(t => t.Name))})");

    public static Split ParseSplit(string name) => name.ToLowerInvariant() switch
    {
        "test" => Split.Test,
        "validation" or "valid" or "val" => Split.Validation,
        _ => throw new UserError($"unknown split '{name}' (test or validation)"),
    };

    public string FilePath(string dataDir, Split split) =>
        Path.Combine(dataDir, "eval", Folder, split == Split.Test ? TestFile : ValidationFile);

    /// <summary>The split's text as the papers' loaders build it.</summary>
    public string LoadText(string dataDir, Split split)
    {
        string path = FilePath(dataDir, split);
        if (!File.Exists(path)) throw new UserError($"{path}: evaluation file not found");
        // Rows as Hugging Face `datasets` yields them: WikiText keeps each line's newline, PTB sentences do not.
        var lines = File.ReadAllText(path).Split('\n');
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        var rows = StripLines ? lines.Select(l => l.Trim()) : lines.Select(l => l + "\n");
        return string.Join(Separator, rows);
    }
}
