using NasPrune.Common;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary><c>nasprune export --format gguf</c> as a user runs it, checked against the in-process pruned model.</summary>
public sealed class GgufCliTests(TinyModelDirectory tiny, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string work = Path.Combine(Path.GetTempPath(), "nasprune-gguf-cli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
    }

    [Fact]
    public void ExportWritesAGgufThatLlamaCppRunsAsThePrunedModel()
    {
        var calibration = new CalibrationSettings(Sequences: 4, Seed: 3);
        using var prepared = PreparedModel.Prepare(tiny.Dir, DataDirectory.Resolve(), "magnitude", calibration, CPU);
        var arch = prepared.Space.Random(0.4, new Random(5));
        Directory.CreateDirectory(work);
        string archFile = Path.Combine(work, "arch.json"), outDir = Path.Combine(work, "out");
        arch.Save(archFile);

        var r = CliProcess.Run("export", "--model", tiny.Dir, "--arch", archFile, "--criterion", "magnitude", "--seed", "3",
            "--calibration-sequences", "4", "--split", "validation", "--eval-windows", "2", "--format", "gguf", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(["README.md", "architecture.json", "model.gguf", "prune.json"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        string card = File.ReadAllText(Path.Combine(outDir, "README.md"));
        Assert.Contains(arch.Id, card);
        Assert.Contains("--format gguf", card);
        var shapes = arch.ToShapes(prepared.Model.Config);
        Assert.Equal(shapes.Count, card.Split('\n').Count(line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^\| \d+ \| ")));
        Assert.Contains(shapes[1].Keep ? $"| 1 | {shapes[1].Heads} | {shapes[1].KvHeads} | {shapes[1].Ffn} |" : "| 1 | dropped |", card);

        using var pruned = prepared.Extract(arch);
        pruned.eval();
        var ids = TokenizerLoader.Load(tiny.Dir).Encode(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "wikitext2-valid-excerpt.txt")));
        int length = pruned.Config.MaxPositionEmbeddings;
        var windows = Enumerable.Range(0, 3).Select(w => ids.Skip(w * length).Take(length).ToArray()).ToArray();
        LlamaCppAgreement.AssertAgrees(pruned, Path.Combine(outDir, "model.gguf"), windows, output);
    }

    /// <summary>Both engines of the benchmark decode the same greedy continuation (same weights, same argmax), dense and pruned.</summary>
    [Fact]
    public void GenerationBenchRunsBothEnginesOnTheSameWeights()
    {
        var r = CliProcess.Run("bench", "generation", "--model", tiny.Dir, "--threads", "1", "--decode-tokens", "12", "--repeats", "1",
            "--pruned", "0.2", "0.5", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(32, root.GetProperty("prompt_tokens").GetInt32()); // 256 capped at the tiny model's context
        var variants = root.GetProperty("variants").EnumerateArray().ToArray();
        Assert.Equal(3, variants.Length);
        long dense = root.GetProperty("params").GetInt64();
        Assert.Equal(dense, variants[0].GetProperty("params").GetInt64());
        foreach (var v in variants)
        {
            Assert.Equal(12, v.GetProperty("same_greedy_tokens").GetInt32());
            var engines = v.GetProperty("engines").EnumerateArray().ToArray();
            Assert.Equal(["nasprune", "llama.cpp"], engines.Select(e => e.GetProperty("engine").GetString()));
            Assert.All(engines, e => Assert.True(e.GetProperty("decode_tokens_per_second").GetDouble() > 0));
            Assert.Equal((double)dense / v.GetProperty("params").GetInt64(), v.GetProperty("param_ratio").GetDouble(), 9);
        }
        // Uniform pruning to the budget: at least the share asked for is gone.
        Assert.True(variants[1].GetProperty("params").GetInt64() <= 0.8 * dense);
        Assert.True(variants[2].GetProperty("params").GetInt64() <= 0.5 * dense);
    }

    [Fact]
    public void UnknownFormatIsAUsageError()
    {
        var r = CliProcess.Run("export", "--model", tiny.Dir, "--arch", "x.json", "--format", "onnx", "--out", Path.Combine(work, "o"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--format onnx", r.Stderr);
    }

    /// <summary>The same uniform 20 % cut written as a Hugging Face checkpoint and as GGUF: gguf-check finds them equal.</summary>
    string[] PruneBothWays()
    {
        string hf = Path.Combine(work, "hf"), gguf = Path.Combine(work, "gguf");
        foreach (var (dir, format) in new[] { (hf, "hf"), (gguf, "gguf") })
        {
            var r = CliProcess.Run("prune", "--model", tiny.Dir, "--uniform", "--remove", "0.2", "--criterion", "magnitude",
                "--calibration-sequences", "2", "--eval-windows", "1", "--format", format, "--out", dir);
            Assert.True(r.ExitCode == 0, r.Stderr);
        }
        return [hf, Path.Combine(gguf, "model.gguf")];
    }

    [Fact]
    public void GgufCheckFindsTheExportEqualToItsCheckpointAndAnotherModelNot()
    {
        var (hf, gguf) = PruneBothWays() is [var a, var b] ? (a, b) : throw new InvalidOperationException();
        var same = CliProcess.Run("gguf-check", "--gguf", gguf, "--model", hf, "--seq-len", "32", "--max-windows", "3", "--threads", "1", "--json");
        Assert.True(same.ExitCode == 0, same.Stderr + same.Stdout);
        var r = System.Text.Json.JsonDocument.Parse(same.Stdout).RootElement;
        Assert.True(r.GetProperty("tokenizer_agrees").GetBoolean());
        Assert.Equal(r.GetProperty("tokens").GetInt32(), TokenizerLoader.Load(tiny.Dir).Encode(
            NasPrune.Evaluator.Perplexity.PerplexityTask.Get("wikitext2").LoadText(DataDirectory.Resolve(), NasPrune.Evaluator.Perplexity.Split.Validation)).Length);
        Assert.Equal((3, 32), (r.GetProperty("windows").GetInt32(), r.GetProperty("seq_len").GetInt32()));
        Assert.InRange(r.GetProperty("relative_logit_difference").GetDouble(), 0, 1e-3);
        Assert.InRange(r.GetProperty("relative_ppl_difference").GetDouble(), 0, 1e-4);
        Assert.True(r.GetProperty("agrees").GetBoolean());

        // The dense model is not what the file holds: same vocabulary, other logits, exit 1 with the figures.
        var other = CliProcess.Run("gguf-check", "--gguf", gguf, "--model", tiny.Dir, "--seq-len", "32", "--threads", "1");
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("DISAGREES", other.Stdout);
        Assert.Contains("tokenizer: llama.cpp gives NasPrune's", other.Stdout);
    }

    [Fact]
    public void GgufCheckBadInputIsOneLine()
    {
        string missing = Path.Combine(work, "none.gguf");
        var r = CliProcess.Run("gguf-check", "--gguf", missing, "--model", tiny.Dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"nasprune: error: --gguf {missing}: no such file", r.Stderr.Trim());
        Directory.CreateDirectory(work);
        string junk = Path.Combine(work, "junk.gguf");
        File.WriteAllText(junk, "not a gguf file");
        r = CliProcess.Run("gguf-check", "--gguf", junk, "--model", tiny.Dir, "--seq-len", "32");
        Assert.Equal(2, r.ExitCode);
        Assert.EndsWith($"nasprune: error: {junk}: llama.cpp could not load it (its log above says why)", r.Stderr.Trim());
    }
}
