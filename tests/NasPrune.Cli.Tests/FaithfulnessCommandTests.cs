using System.Text.Json;
using NasPrune.Common.Pairs;
using Xunit;

namespace NasPrune.Tests;

/// <summary><c>nasprune faithfulness</c> on a tiny model: its figures agree with the pairs it read.</summary>
public sealed class FaithfulnessCommandTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-faithful-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void ReportsTheSmallestGapOfThePairsAgainstTheDenseModel()
    {
        string pairs = Path.Combine(root, "pairs");
        var sample = CliProcess.Run("sample", "--model", tiny.Dir, "--out", pairs, "--count", "6", "--windows", "3",
            "--min-kept", "0.5", "--max-kept", "0.8", "--seed", "4", "--device", "cpu", "--json");
        Assert.True(sample.ExitCode == 0, sample.Stderr);
        var r = CliProcess.Run("faithfulness", "--model", tiny.Dir, "--pairs", pairs, "--device", "cpu", "--json");
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var report = doc.RootElement.GetProperty("pairs");
        double dense = report.GetProperty("dense_nll").GetDouble();
        var rows = PairStore.ReadAll(pairs);
        Assert.Equal(rows.Count, report.GetProperty("candidates").GetInt32());
        var closest = rows.MinBy(p => p.WikiText2Nll)!;
        Assert.Equal(closest.ArchId, report.GetProperty("smallest_gap").GetProperty("arch_id").GetString());
        Assert.Equal(closest.WikiText2Nll - dense, report.GetProperty("smallest_gap").GetProperty("gap").GetDouble(), 12);
        int atOrBelow = rows.Count(p => p.WikiText2Nll <= dense);
        Assert.Equal(atOrBelow, report.GetProperty("at_or_below_dense").GetInt32());
        Assert.Equal(atOrBelow == 0, doc.RootElement.GetProperty("holds").GetBoolean());
        Assert.Equal(atOrBelow == 0 ? 0 : 1, r.ExitCode);
        // The dense loss is a real score of the model: positive and not far above a uniform guess.
        Assert.InRange(dense, 0.1, Math.Log(NasPrune.Evaluator.Tokenization.TokenizerLoader.Load(tiny.Dir).VocabSize) + 1);
    }

    [Fact]
    public void APairsDirectoryWithoutItsProtocolIsOneLine()
    {
        Directory.CreateDirectory(root);
        var r = CliProcess.Run("faithfulness", "--model", tiny.Dir, "--pairs", root);
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("nasprune: error: ", lines[0]);
        Assert.Contains("sample.json", lines[0]);
    }
}
