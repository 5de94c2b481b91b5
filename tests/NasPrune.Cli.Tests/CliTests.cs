using System.Text.Json;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The command line as a user meets it: exit codes, one-line errors, clean JSON on stdout.</summary>
public sealed class CliTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-cli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    internal static void AssertOneLineUserError(CliProcess.Result r, string expected)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("nasprune: error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    [Fact]
    public void MissingModelDirectoryIsOneLineAndExitCode2()
    {
        AssertOneLineUserError(CliProcess.Run("eval", "--model", dir, "--task", "wikitext2"), dir);
    }

    [Fact]
    public void CorruptSafetensorsIsOneLineNamingTheFile()
    {
        // The embedded model's tokenizer goes beside it, so the vocabulary must hold its ids (a smaller one is refused first).
        int vocab = NasPrune.Evaluator.Tokenization.TokenizerLoader.Load(DataDirectory.DefaultModel()).VocabSize;
        var c = ModelConfig.Uniform(vocab: vocab, hidden: 16, layers: 1, heads: 2, kvHeads: 2, ffn: 8, maxPositions: 16);
        using (var m = new LlamaForCausalLM(c)) HfCheckpoint.SaveModel(m, dir);
        File.Copy(Path.Combine(DataDirectory.DefaultModel(), "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var path = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]); // truncated download
        AssertOneLineUserError(CliProcess.Run("eval", "--model", dir, "--task", "ptb", "--max-windows", "1"), "model.safetensors");
        AssertOneLineUserError(CliProcess.Run("info", "--model", dir), "model.safetensors");
    }

    [Fact]
    public void UnknownTaskIsOneLine()
    {
        AssertOneLineUserError(CliProcess.Run("eval", "--task", "lambada"), "unknown task 'lambada' (perplexity: wikitext2, ptb, heldout; multiple choice: mmlu, zeroshot, arc_challenge");
    }

    [Fact]
    public void UnknownOptionFailsWithoutStackTrace()
    {
        var r = CliProcess.Run("eval", "--no-such-option");
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void InfoJsonDescribesTheEmbeddedModel()
    {
        var r = CliProcess.Run("info", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        var config = HfCheckpoint.LoadConfig(DataDirectory.DefaultModel());
        Assert.Equal(config.TotalParams, root.GetProperty("params").GetInt64());
        Assert.Equal(config.NumHiddenLayers, root.GetProperty("per_layer").GetArrayLength());
        Assert.Equal(HfCheckpoint.ModelHash(DataDirectory.DefaultModel()), root.GetProperty("model_hash").GetString());
    }

    [Fact]
    public void ZeroShotSuiteOnTheEmbeddedModelReportsEveryTaskAndTheAverage()
    {
        var r = CliProcess.Run("eval", "--task", "zeroshot", "--limit", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        var tasks = root.GetProperty("tasks").EnumerateArray().ToList();
        Assert.Equal(["boolq", "piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"],
            tasks.Select(t => t.GetProperty("task").GetString()));
        Assert.All(tasks, t => Assert.Equal(2, t.GetProperty("n").GetInt32()));
        Assert.All(tasks, t => Assert.InRange(t.GetProperty("acc_norm").GetDouble(), 0, 1));
        Assert.Equal(tasks.Average(t => t.GetProperty("reported").GetDouble()), root.GetProperty("average").GetProperty("reported").GetDouble(), 9);
        Assert.Equal(HfCheckpoint.ModelHash(DataDirectory.DefaultModel()), root.GetProperty("model_hash").GetString());
    }

    [Fact]
    public void EvalJsonIsOneObjectWithTheProtocol()
    {
        var r = CliProcess.Run("eval", "--task", "wikitext2", "--split", "validation", "--max-windows", "2", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("wikitext2", root.GetProperty("task").GetString());
        Assert.Equal("validation", root.GetProperty("split").GetString());
        Assert.Equal(2, root.GetProperty("windows").GetInt32());
        int seqLen = root.GetProperty("seq_len").GetInt32();
        Assert.Equal(2L * (seqLen - 1), root.GetProperty("tokens").GetInt64());
        double nll = root.GetProperty("nll").GetDouble();
        Assert.Equal(Math.Exp(nll), root.GetProperty("ppl").GetDouble(), 6);
        Assert.Contains("tokenizer.json", root.GetProperty("tokenizer").GetString());
    }
}
