using System.Text.Json;
using DuckDB.NET.Data;
using NasPrune.Common.Pairs;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The pairs stage end to end through the real program, on a tiny model (seconds per run).</summary>
public sealed class SampleCommandTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-sample-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    /// <summary>Runs sample with small defaults; an option given in <paramref name="extra"/> replaces its default.</summary>
    CliProcess.Result Sample(string outDir, int count, params string[] extra)
    {
        var defaults = new Dictionary<string, string> { ["--windows"] = "3", ["--min-kept"] = "0.5", ["--max-kept"] = "0.8", ["--seed"] = "21" };
        var args = new List<string> { "sample", "--model", tiny.Dir, "--out", outDir, "--count", $"{count}", "--device", "cpu", "--json" };
        foreach (var (option, value) in defaults)
            if (!extra.Contains(option)) args.AddRange([option, value]);
        return CliProcess.Run([.. args, .. extra]);
    }

    [Fact]
    public void ShardsAndResumeReproduceTheSingleWorkerPairs()
    {
        string single = Path.Combine(root, "single"), sharded = Path.Combine(root, "sharded"), resumed = Path.Combine(root, "resumed");
        var one = Sample(single, 8);
        Assert.True(one.ExitCode == 0, one.Stderr);
        using (var doc = JsonDocument.Parse(one.Stdout))
            Assert.Equal(8, doc.RootElement.GetProperty("rows_in_directory").GetInt32());

        // Two workers with the same seed into one directory: the union is the single worker's set.
        foreach (var shard in new[] { "0/2", "1/2" })
        {
            var r = Sample(sharded, 8, "--shard", shard, "--resume");
            Assert.True(r.ExitCode == 0, r.Stderr);
        }
        Assert.True(Directory.Exists(Path.Combine(sharded, "shard-1-of-2")));
        var same = CliProcess.Run("pairs", "compare", single, sharded);
        Assert.True(same.ExitCode == 0, same.Stdout + same.Stderr);

        // A run killed after 3 candidates (the stream's prefix) with a torn temporary file left behind, then resumed.
        Assert.Equal(0, Sample(resumed, 3).ExitCode);
        File.WriteAllBytes(Path.Combine(resumed, "shard-0-of-1", ".part-00001.parquet.0badc0de.tmp"), [1, 2, 3]);
        var again = Sample(resumed, 8, "--resume");
        Assert.True(again.ExitCode == 0, again.Stderr);
        using (var doc = JsonDocument.Parse(again.Stdout))
        {
            Assert.Equal(3, doc.RootElement.GetProperty("run").GetProperty("already_present").GetInt32());
            Assert.Equal(5, doc.RootElement.GetProperty("run").GetProperty("evaluated").GetInt32());
        }
        Assert.Equal(0, CliProcess.Run("pairs", "compare", single, resumed).ExitCode);
        var validate = CliProcess.Run("pairs", "validate", resumed, "--json");
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);
        using (var doc = JsonDocument.Parse(validate.Stdout))
        {
            Assert.Equal(8, doc.RootElement.GetProperty("rows").GetInt32());
            Assert.All(doc.RootElement.GetProperty("per_file").EnumerateArray(),
                f => Assert.Equal(f.GetProperty("rows").GetInt32(), f.GetProperty("duck_db_rows").GetInt32()));
        }

        // Rows are complete: every per-layer list has one entry per layer, budgets in the band, the protocol recorded.
        var rows = PairStore.ReadAll(single);
        Assert.All(rows, r =>
        {
            Assert.Equal(3, r.HeadRatio.Count);
            Assert.InRange(r.ParamRatio, 0.5 - 1e-9, 0.8 + 1e-9);
            Assert.Equal(3, r.EvalWindows);
            Assert.Equal(Math.Exp(r.WikiText2Nll), r.WikiText2Ppl, 9);
        });
        Assert.True(File.Exists(Path.Combine(single, "importance-profile.json")));

        // Merge writes one deduplicated file and never overwrites.
        string merged = Path.Combine(root, "merged.parquet");
        Assert.Equal(0, CliProcess.Run("pairs", "merge", sharded, "--out", merged).ExitCode);
        Assert.Equal(8, PairStore.ReadFile(merged).Rows.Count);
        var overwrite = CliProcess.Run("pairs", "merge", sharded, "--out", merged);
        Assert.Equal(2, overwrite.ExitCode);
        Assert.Contains("already exists", overwrite.Stderr);
    }

    [Fact]
    public void MistakesAreOneLineErrorsAndNothingIsOverwritten()
    {
        string dir = Path.Combine(root, "p");
        var badBand = Sample(dir, 4, "--max-kept", "1.5");
        Assert.Equal(2, badBand.ExitCode);
        Assert.Contains("budget band", badBand.Stderr);
        Assert.DoesNotContain("   at ", badBand.Stderr);

        Assert.Equal(0, Sample(dir, 2).ExitCode);
        var before = Directory.GetFiles(dir, "*.parquet", SearchOption.AllDirectories).Select(File.ReadAllBytes).ToList();
        var again = Sample(dir, 2);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("--resume", again.Stderr);
        var otherSettings = Sample(dir, 2, "--resume", "--window-seed", "5");
        Assert.Equal(2, otherSettings.ExitCode);
        Assert.Contains("other settings", otherSettings.Stderr);
        Assert.Equal(before, Directory.GetFiles(dir, "*.parquet", SearchOption.AllDirectories).Select(File.ReadAllBytes).ToList());

        string emptyDir = Path.Combine(root, "empty");
        Directory.CreateDirectory(emptyDir);
        var empty = CliProcess.Run("pairs", "validate", emptyDir);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("no pair files", empty.Stderr);

        File.WriteAllText(Path.Combine(emptyDir, "broken.parquet"), "PAR1 torn");
        var broken = CliProcess.Run("pairs", "list", emptyDir);
        Assert.Equal(2, broken.ExitCode);
        Assert.Contains("broken.parquet", broken.Stderr);
        Assert.Equal("PAR1 torn", File.ReadAllText(Path.Combine(emptyDir, "broken.parquet")));
    }

    [Fact]
    public void MeasureBothWritesTheKlColumnAndAResumeWithAnotherMeasureIsRefused()
    {
        string dir = Path.Combine(root, "kl");
        var first = Sample(dir, 3, "--measure", "both", "--kl-topk", "16");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var rows = PairStore.ReadAll(dir);
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.True(r.WikiText2Kl > 0, $"{r.ArchId}: KL {r.WikiText2Kl}");
            Assert.Equal(16, r.KlTopK);
        });
        using (var connection = new DuckDBConnection("DataSource=:memory:"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT arch_id, wikitext2_kl, kl_top_k FROM read_parquet('{PairStore.Files(dir).Single()}')";
            using var reader = command.ExecuteReader();
            int read = 0;
            while (reader.Read())
            {
                var row = rows.Single(r => r.ArchId == reader.GetString(0));
                Assert.Equal(row.WikiText2Kl, reader.GetDouble(1));
                Assert.Equal(16, Convert.ToInt32(reader.GetValue(2)));
                read++;
            }
            Assert.Equal(3, read);
        }
        var listed = CliProcess.Run("pairs", "validate", dir, "--json");
        Assert.True(listed.ExitCode == 0, listed.Stdout + listed.Stderr);
        using (var doc = JsonDocument.Parse(listed.Stdout))
        {
            Assert.Equal(rows.Min(r => r.WikiText2Kl)!.Value, doc.RootElement.GetProperty("min_wiki_text2_kl").GetDouble());
            Assert.Equal(16, doc.RootElement.GetProperty("kl_top_k").EnumerateArray().Single().GetInt32());
        }

        // The measure is part of the protocol: resuming with another one (or another k) is refused, in one line.
        foreach (var other in new[] { new[] { "--resume" }, ["--resume", "--measure", "kl", "--kl-topk", "16"], ["--resume", "--measure", "both", "--kl-topk", "8"] })
        {
            var refused = Sample(dir, 4, other);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("other settings", refused.Stderr);
            Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        var resumed = Sample(dir, 4, "--resume", "--measure", "both", "--kl-topk", "16");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.All(PairStore.ReadAll(dir), r => Assert.Equal(16, r.KlTopK));
        Assert.Equal(4, PairStore.ReadAll(dir).Count);
    }
}
