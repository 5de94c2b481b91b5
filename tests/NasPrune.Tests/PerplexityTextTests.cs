using System.Security.Cryptography;
using System.Text;
using NasPrune.Common;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Tokenization;
using NasPrune.Evaluator.Training;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// The perplexity tasks read exactly the text the papers evaluate on: WikiText-2 raw joined as
/// <c>"\n\n".join(rows)</c> of Hugging Face's <c>wikitext-2-raw-v1</c> rows, and a held-out general-English task
/// that the model never trained on.
/// </summary>
public class PerplexityTextTests
{
    static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void WikiTextRowsKeepTheirNewlineAndBlankLinesBecomeEmptyRows()
    {
        // Rows: "", " = A = \n", "", " b \n" (the file's " \n" lines are whitespace-only, so empty rows).
        Assert.Equal("\n\n = A = \n\n\n\n\n b \n", PerplexityTask.JoinWikiTextRows(" \n = A = \n \n b \n"));
    }

    [Theory]
    // Expected values computed independently (Python: rows = ['' if l.strip() == '' else l + '\n' for l in lines];
    // '\n\n'.join(rows)); the old join that kept " \n" rows was 2,934 (test) and 2,598 (validation) characters longer.
    [InlineData(Split.Test, 4358, 1467, "696cca6b65a171b0a358a4be6732cdfdf2dd6164a32e20fd70e3c13fc4dfae83")]
    [InlineData(Split.Validation, 3760, 1299, "b44fb967f92b525731216a507d1fbc44b97446b7ef0a2b4d1a893f81f1bbc29e")]
    public void WikiText2IsTheRawReleaseJoinedAsHuggingFaceRows(Split split, int rows, int blankRows, string sha256)
    {
        string dataDir = DataDirectory.Resolve();
        string raw = File.ReadAllText(PerplexityTask.WikiText2.FilePath(dataDir, split));
        Assert.Equal(rows, raw.Count(c => c == '\n'));
        Assert.Equal(blankRows, raw.Split('\n')[..^1].Count(string.IsNullOrWhiteSpace));
        string text = PerplexityTask.WikiText2.LoadText(dataDir, split);
        Assert.Equal(sha256, Sha256(text));
        Assert.DoesNotContain("<unk>", text); // the raw release, not the word-level one
    }

    [Fact]
    public void HeldOutSplitsAreTheGeneralFilesHeldOutTailsAndNeverTrainingText()
    {
        string dataDir = DataDirectory.Resolve();
        string validation = PerplexityTask.HeldOut.LoadText(dataDir, Split.Validation);
        string test = PerplexityTask.HeldOut.LoadText(dataDir, Split.Test);
        var corpus = TrainingCorpus.Load(Path.Combine(dataDir, "train-corpus"));
        foreach (string name in PerplexityTask.GeneralEnglishFiles)
        {
            int i = corpus.Files.Select(Path.GetFileName).ToList().IndexOf(name);
            Assert.True(i >= 0, $"{name} is a training-corpus file");
            string tail = corpus.HeldOutTexts[i];
            Assert.True(tail.Length > 10_000, $"{name}: held-out tail of {tail.Length} characters");
            Assert.Equal(File.ReadAllText(corpus.Files[i]).Replace("\r\n", "\n"), corpus.TrainTexts[i] + tail);
            // The tail's two halves are the two splits, in order, cut at a line boundary.
            int v = validation.IndexOf(tail[..200], StringComparison.Ordinal);
            Assert.True(v >= 0, $"{name}: validation starts with the held-out tail");
            Assert.False(test.Contains(tail[..200], StringComparison.Ordinal));
            Assert.True(test.Contains(tail[^200..], StringComparison.Ordinal), $"{name}: test ends with the held-out tail");
            Assert.False(corpus.TrainTexts[i].Contains(tail[..200], StringComparison.Ordinal));
        }
        Assert.Equal(PerplexityTask.GeneralEnglishFiles.Sum(f => corpus.HeldOutTexts[corpus.Files.Select(Path.GetFileName).ToList().IndexOf(f)].Length),
            // each split joins its per-file halves with one "\n\n"
            validation.Length + test.Length - 2 * 2 * (PerplexityTask.GeneralEnglishFiles.Count - 1));
    }

    [Fact]
    public void EveryTaskHasAValidationAndATestText()
    {
        string dataDir = DataDirectory.Resolve();
        foreach (var task in PerplexityTask.All)
            foreach (var split in new[] { Split.Validation, Split.Test })
                Assert.True(task.LoadText(dataDir, split).Length > 50_000, $"{task.Name} {split}");
        Assert.Equal(["wikitext2", "ptb", "heldout"], PerplexityTask.All.Select(t => t.Name));
    }
}
