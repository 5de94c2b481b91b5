using NasPrune.Common;

namespace NasPrune.Evaluator.Training;

/// <summary>
/// A directory of plain-text files (*.txt, read in name order) split into training and held-out text: the last
/// <c>holdout</c> share of each file's characters, cut at a line boundary, is held out (the corpus README's
/// suggested split). The evaluation splits (WikiText-2 raw and PTB validation/test) are never part of it; their
/// training splits may be (the embedded model trains on them, as real LLMs have seen Wikipedia-like text).
/// </summary>
public sealed record TrainingCorpus(IReadOnlyList<string> Files, IReadOnlyList<string> TrainTexts, IReadOnlyList<string> HeldOutTexts)
{
    public static TrainingCorpus Load(string directory, double holdout = 0.02)
    {
        if (!Directory.Exists(directory)) throw new UserError($"{directory}: corpus directory not found");
        var files = Directory.GetFiles(directory, "*.txt").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new UserError($"{directory}: no *.txt files in the corpus directory");
        var train = new List<string>();
        var heldOut = new List<string>();
        foreach (var file in files)
        {
            string text = File.ReadAllText(file).Replace("\r\n", "\n");
            int cut = HoldOutCut(text, holdout);
            train.Add(text[..cut]);
            heldOut.Add(text[cut..]);
        }
        return new TrainingCorpus(files, train, heldOut);
    }

    /// <summary>Where a file's held-out tail starts: the line boundary before the last <paramref name="holdout"/> share.</summary>
    public static int HoldOutCut(string text, double holdout = 0.02) =>
        text.LastIndexOf('\n', Math.Max(0, (int)(text.Length * (1 - holdout)) - 1)) + 1;

    /// <summary>The held-out tail of one file's text (what <see cref="Load"/> keeps out of training).</summary>
    public static string HeldOutPart(string text, double holdout = 0.02) => text[HoldOutCut(text, holdout)..];

    /// <summary>Each text tokenized, documents separated by the end-of-text token.</summary>
    public static int[] TokenStream(IEnumerable<string> texts, Func<string, int[]> encode, int endOfTextId)
    {
        var stream = new List<int>();
        foreach (var text in texts)
        {
            stream.AddRange(encode(text));
            stream.Add(endOfTextId);
        }
        return stream.ToArray();
    }
}
