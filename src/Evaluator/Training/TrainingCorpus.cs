using NasPrune.Common;

namespace NasPrune.Evaluator.Training;

/// <summary>
/// A directory of plain-text files (*.txt, read in name order) split into training and held-out text: the last
/// <c>holdout</c> share of each file's characters, cut at a line boundary, is held out (the corpus README's
/// suggested split). Evaluation sets (WikiText-2, PTB) are never part of it.
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
            int cut = text.LastIndexOf('\n', Math.Max(0, (int)(text.Length * (1 - holdout)) - 1)) + 1;
            train.Add(text[..cut]);
            heldOut.Add(text[cut..]);
        }
        return new TrainingCorpus(files, train, heldOut);
    }

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
