using System.Text.Json;
using NasPrune.Evaluator.Checkpoints;
using Xunit;

namespace NasPrune.Tests;

/// <summary>`nasprune train-base` end to end on a tiny configuration: a real checkpoint comes out, deterministically.</summary>
public sealed class TrainBaseCliTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-train-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    CliProcess.Result Train(string name)
    {
        string corpus = Path.Combine(root, "corpus");
        Directory.CreateDirectory(corpus);
        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "brown-excerpt.txt");
        File.Copy(fixture, Path.Combine(corpus, "brown-excerpt.txt"), overwrite: true);
        return CliProcess.Run("train-base", "--out", Path.Combine(root, name), "--corpus", corpus, "--vocab", "300",
            "--layers", "2", "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--ffn", "48", "--seq-len", "32",
            "--batch-size", "4", "--steps", "30", "--warmup", "5", "--eval-every", "10", "--final-eval-windows", "2",
            "--device", "cpu", "--seed", "7", "--json");
    }

    [Fact]
    public void TrainsALoadableCheckpointDeterministically()
    {
        var first = Train("a");
        Assert.True(first.ExitCode == 0, first.Stderr);
        string dir = Path.Combine(root, "a");
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "README.md", "training_log.csv" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.False(Directory.Exists(dir + ".partial"));

        using var doc = JsonDocument.Parse(first.Stdout);
        var result = doc.RootElement;
        // Every perplexity task (wikitext2, ptb, heldout) on its validation and test split.
        Assert.Equal(["wikitext2 validation", "wikitext2 test", "ptb validation", "ptb test", "heldout validation", "heldout test"],
            result.GetProperty("evaluations").EnumerateArray().Select(e => $"{e.GetProperty("task").GetString()} {e.GetProperty("split").GetString()}"));
        using var model = HfCheckpoint.LoadModel(dir);
        Assert.Equal(result.GetProperty("params").GetInt64(), model.parameters().Sum(p => p.numel()));
        Assert.Equal(2, model.Config.NumKeyValueHeads);

        // Learning happened: the held-out loss at the end is below the first measurement, and far below log(vocab).
        var curve = File.ReadAllLines(Path.Combine(dir, "training_log.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        double firstLoss = double.Parse(curve[0][3], System.Globalization.CultureInfo.InvariantCulture);
        double lastLoss = double.Parse(curve[^1][3], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(lastLoss < firstLoss, $"held-out loss {firstLoss} -> {lastLoss}");
        Assert.True(lastLoss < Math.Log(300));

        var second = Train("b");
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal(HfCheckpoint.ModelHash(dir), HfCheckpoint.ModelHash(Path.Combine(root, "b")));
    }

    [Fact]
    public void RefusesToOverwriteAnExistingModel()
    {
        Directory.CreateDirectory(Path.Combine(root, "taken"));
        File.WriteAllText(Path.Combine(root, "taken", "keep.txt"), "user data");
        var r = CliProcess.Run("train-base", "--out", Path.Combine(root, "taken"), "--steps", "1");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--force", r.Stderr);
        Assert.Equal("user data", File.ReadAllText(Path.Combine(root, "taken", "keep.txt")));
    }
}
