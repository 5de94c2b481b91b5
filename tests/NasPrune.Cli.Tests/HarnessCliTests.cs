using System.Text.Json;
using NasPrune.Evaluator.Checkpoints;
using Xunit;

namespace NasPrune.Tests;

/// <summary><c>nasprune eval</c> of multiple-choice tasks through the real program (see <c>HarnessTests</c> for the harness).</summary>
public sealed class HarnessCliTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("nasprune-harness-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string WriteFile(string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    string SaveTinyModel() => TinyHarnessModel.Save(Path.Combine(dir, "model"));

    [Fact]
    public void EvalTaskFileJsonIsOneObjectWithTheProtocol()
    {
        string modelDir = SaveTinyModel();
        string tasks = WriteFile("mine.jsonl",
            """{"context": "The sky is", "choices": ["blue", "a banana"], "gold": 0}""" + "\n" +
            """{"context": "Water is", "choices": ["wet", "dry"], "gold": 0}""" + "\n" +
            """{"context": "Fire is", "choices": ["hot", "cold"], "gold": 0}""" + "\n");
        var r = CliProcess.Run("eval", "--model", modelDir, "--task-file", tasks, "--limit", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(HfCheckpoint.ModelHash(modelDir), root.GetProperty("model_hash").GetString());
        Assert.Contains("tokenizer.json", root.GetProperty("tokenizer").GetString());
        Assert.Equal(128, root.GetProperty("seq_len").GetInt32());
        var task = Assert.Single(root.GetProperty("tasks").EnumerateArray().ToList());
        Assert.Equal("mine", task.GetProperty("task").GetString());
        Assert.Equal(2, task.GetProperty("n").GetInt32());
        Assert.Equal(0, task.GetProperty("shots").GetInt32());
        Assert.Contains("{context}", task.GetProperty("prompt_format").GetString());
        foreach (var metric in new[] { "acc", "acc_norm" })
            Assert.InRange(task.GetProperty(metric).GetDouble(), 0, 1);
    }

    [Fact]
    public void EvalMmluReadsAFolderInMmluLayout()
    {
        string modelDir = SaveTinyModel();
        string mmlu = Path.Combine(dir, "mmlu");
        Directory.CreateDirectory(Path.Combine(mmlu, "dev"));
        Directory.CreateDirectory(Path.Combine(mmlu, "test"));
        File.WriteAllText(Path.Combine(mmlu, "dev", "world_religions_dev.csv"), "Who?,a,b,c,d,A\n");
        File.WriteAllText(Path.Combine(mmlu, "test", "world_religions_test.csv"), "\"Where, then?\",a,b,c,d,B\nWhy?,a,b,c,d,C\n");
        var r = CliProcess.Run("eval", "--model", modelDir, "--task", "mmlu", "--shots", "1", "--data", mmlu, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var m = doc.RootElement.GetProperty("mmlu");
        Assert.Equal(2, m.GetProperty("n").GetInt32());
        Assert.Equal(1, m.GetProperty("shots").GetInt32());
        Assert.Equal("world_religions", m.GetProperty("subjects")[0].GetProperty("subject").GetString());
        Assert.Equal(0, m.GetProperty("prompts_with_dropped_shots").GetInt32());
    }

    [Fact]
    public void EvalMalformedTaskFileIsOneLineNamingTheLine()
    {
        string modelDir = SaveTinyModel();
        string tasks = WriteFile("broken.jsonl", """{"context": "a", "choices": ["b", "c"], "gold": 0}""" + "\n{\"context\": \n");
        var r = CliProcess.Run("eval", "--model", modelDir, "--task-file", tasks);
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("nasprune: error: ", line);
        Assert.Contains("broken.jsonl:2:", line);
    }
}
