using NasPrune.Common;
using NasPrune.Evaluator.Training;

namespace NasPrune.Evaluator.Perplexity;

public enum Split { Validation, Test }

/// <summary>
/// A perplexity data set and how its text is built before tokenization, following the LLM pruning papers'
/// loaders (LLM-Pruner, Wanda, SparseGPT, FLAP): WikiText-2 is the raw release (<c>wikitext-2-raw-v1</c>), its
/// rows joined by "\n\n"; PTB sentences are joined by " ". <c>heldout</c> is the held-out part of the general-English
/// training files (never trained on), so a search that fits the WikiText/PTB domain at the cost of general text
/// shows. Test splits are for final verification only; search and calibration use validation.
/// </summary>
public sealed record PerplexityTask(string Name, string Description, Func<string, Split, string> Path, Func<string, string> Join)
{
    public static readonly PerplexityTask WikiText2 = new("wikitext2",
        "WikiText-2 raw (wikitext-2-raw-v1), rows joined by \"\\n\\n\"",
        (dataDir, split) => System.IO.Path.Combine(dataDir, "eval", "wikitext-2-raw", split == Split.Test ? "wiki.test.raw" : "wiki.valid.raw"),
        JoinWikiTextRows);

    public static readonly PerplexityTask Ptb = new("ptb",
        "Penn Treebank (Mikolov), sentences stripped and joined by \" \"",
        (dataDir, split) => System.IO.Path.Combine(dataDir, "eval", "ptb", split == Split.Test ? "ptb.test.txt" : "ptb.valid.txt"),
        text => string.Join(" ", Lines(text).Select(l => l.Trim())));

    /// <summary>
    /// The general-English files' held-out tails (the part <see cref="TrainingCorpus"/> holds out of training),
    /// validation the first half of each tail, test the second, cut at line boundaries; files joined by "\n\n".
    /// </summary>
    public static readonly PerplexityTask HeldOut = new("heldout",
        "held-out general English (last 2 % of data/train-corpus brown.txt and sotu.txt; validation = first half, test = second half)",
        (dataDir, _) => System.IO.Path.Combine(dataDir, "train-corpus"),
        _ => throw new InvalidOperationException("heldout is built by LoadText"));

    public static readonly IReadOnlyList<PerplexityTask> All = [WikiText2, Ptb, HeldOut];

    /// <summary>The general-English corpus files whose held-out tails form <see cref="HeldOut"/>.</summary>
    public static readonly IReadOnlyList<string> GeneralEnglishFiles = ["brown.txt", "sotu.txt"];

    public static PerplexityTask Get(string name) =>
        All.FirstOrDefault(t => t.Name == name.ToLowerInvariant())
        ?? throw new UserError($"unknown perplexity task '{name}' (known: {string.Join(", ", All.Select(t => t.Name))})");

    public static Split ParseSplit(string name) => name.ToLowerInvariant() switch
    {
        "test" => Split.Test,
        "validation" or "valid" or "val" => Split.Validation,
        _ => throw new UserError($"unknown split '{name}' (test or validation)"),
    };

    public string FilePath(string dataDir, Split split) => Path(dataDir, split);

    /// <summary>The split's text as the papers' loaders build it.</summary>
    public string LoadText(string dataDir, Split split)
    {
        if (this == HeldOut) return HeldOutText(dataDir, split);
        string path = FilePath(dataDir, split);
        if (!File.Exists(path)) throw new UserError($"{path}: evaluation file not found");
        return Join(File.ReadAllText(path));
    }

    /// <summary>
    /// <c>"\n\n".join(rows)</c> where rows are what Hugging Face <c>datasets</c> yields for <c>wikitext-2-raw-v1</c>:
    /// each line keeps its newline, and a whitespace-only line is the empty string.
    /// </summary>
    public static string JoinWikiTextRows(string text) =>
        string.Join("\n\n", Lines(text).Select(l => string.IsNullOrWhiteSpace(l) ? "" : l + "\n"));

    static string[] Lines(string text)
    {
        var lines = text.Split('\n');
        return lines.Length > 0 && lines[^1].Length == 0 ? lines[..^1] : lines;
    }

    static string HeldOutText(string dataDir, Split split)
    {
        var parts = new List<string>();
        foreach (string name in GeneralEnglishFiles)
        {
            string path = System.IO.Path.Combine(dataDir, "train-corpus", name);
            if (!File.Exists(path)) throw new UserError($"{path}: training-corpus file not found (the heldout task reads its held-out tail)");
            string tail = TrainingCorpus.HeldOutPart(File.ReadAllText(path).Replace("\r\n", "\n"));
            int half = tail.LastIndexOf('\n', Math.Max(0, tail.Length / 2 - 1)) + 1;
            parts.Add(split == Split.Validation ? tail[..half] : tail[half..]);
        }
        return string.Join("\n\n", parts);
    }
}
