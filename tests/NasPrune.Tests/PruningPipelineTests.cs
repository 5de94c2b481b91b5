using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>A tiny random model with a real BPE tokenizer in a temporary Hugging Face directory.</summary>
public sealed class TinyModelDirectory : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "nasprune-tiny-" + Guid.NewGuid().ToString("N"));

    public TinyModelDirectory()
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "brown-excerpt.txt"));
        ByteLevelBpeTrainer.Train([text], new BpeTrainerOptions(VocabSize: 300)).Save(Dir, 32);
        int vocab = TokenizerLoader.Load(Dir).VocabSize;
        var config = ModelConfig.Uniform(vocab, hidden: 32, layers: 3, heads: 4, kvHeads: 2, ffn: 48, maxPositions: 32);
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(11, std: 0.2);
        HfCheckpoint.SaveModel(model, Dir);
    }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}

public sealed class PruningPipelineTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string outDir = Path.Combine(Path.GetTempPath(), "nasprune-export-" + Guid.NewGuid().ToString("N"));
    static readonly CalibrationSettings Calibration = new(Sequences: 4, Seed: 3);

    public void Dispose()
    {
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
    }

    PreparedModel Prepare(string criterion = "magnitude") =>
        PreparedModel.Prepare(tiny.Dir, DataDirectory.Resolve(), criterion, Calibration, CPU);

    [Fact]
    public void KeepingEverythingReproducesTheBaseModel()
    {
        using var prepared = Prepare("activation");
        var reordered = prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 8);
        prepared.Apply(prepared.Space.Full);
        var full = prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 8);
        Assert.Equal(reordered.Nll, full.Nll); // the same computation, bit for bit

        using var original = HfCheckpoint.LoadModel(tiny.Dir);
        var baseline = prepared.Perplexity(original, PerplexityTask.WikiText2, Split.Validation, maxWindows: 8);
        Assert.True(Math.Abs(baseline.Ppl - full.Ppl) < 1e-4 * baseline.Ppl, $"{baseline.Ppl} vs {full.Ppl}"); // reordering only changes summation order
    }

    [Fact]
    public void ExportThenLoadGivesTheInPlacePerplexity()
    {
        using var prepared = Prepare();
        var arch = prepared.Space.Uniform(0.5);
        prepared.Apply(arch);
        var inPlace = prepared.Perplexity(prepared.Model, PerplexityTask.Ptb, Split.Validation, maxWindows: 8);
        prepared.Reset();

        using (var pruned = prepared.Extract(arch)) HfCheckpoint.SaveModel(pruned, outDir);
        HfCheckpoint.CopyTokenizer(tiny.Dir, outDir);
        using var loaded = HfCheckpoint.LoadModel(outDir);
        Assert.Equal(arch.ToShapes(prepared.Model.Config), loaded.Config.Layers);
        Assert.Equal(arch.Params(prepared.Model.Config), loaded.parameters().Sum(p => p.numel()));
        var exported = prepared.Perplexity(loaded, PerplexityTask.Ptb, Split.Validation, maxWindows: 8);
        Assert.True(Math.Abs(exported.Ppl - inPlace.Ppl) < 1e-4, $"exported {exported.Ppl} vs in place {inPlace.Ppl}");
        Assert.True(inPlace.Ppl != prepared.Perplexity(prepared.Model, PerplexityTask.Ptb, Split.Validation, maxWindows: 8).Ppl);
    }

    [Fact]
    public void EvalOfACandidateEqualsTheInPlaceEvaluation()
    {
        using var prepared = Prepare();
        var arch = prepared.Space.Uniform(0.4);
        Directory.CreateDirectory(outDir);
        string archFile = Path.Combine(outDir, "arch.json");
        arch.Save(archFile);
        prepared.Apply(arch);
        var inPlace = prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 4);

        var r = CliProcess.Run("eval", "--model", tiny.Dir, "--arch", archFile, "--criterion", "magnitude", "--seed", "3",
            "--task", "wikitext2", "--split", "validation", "--max-windows", "4", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Equal(inPlace.Ppl, doc.RootElement.GetProperty("ppl").GetDouble(), 9);
        Assert.Equal($"{prepared.ModelHash}/{arch.Id}", doc.RootElement.GetProperty("model_hash").GetString());
    }

    [Fact]
    public void ArchitectureOfAnotherModelIsRejected()
    {
        using var prepared = Prepare();
        var foreign = new Architecture("000000000000", prepared.Space.Full.Layers);
        Assert.Contains("base model", Assert.Throws<UserError>(() => prepared.Apply(foreign)).Message);
    }

    [Fact]
    public void PruneCommandExportsAndRecoversWithLeastSquares()
    {
        var r = CliProcess.Run("prune", "--model", tiny.Dir, "--criterion", "output-approx", "--uniform", "--remove", "0.3",
            "--recover", "ls", "--calibration-sequences", "4", "--split", "validation", "--eval-windows", "4", "--out", outDir, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "architecture.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));
        var arch = Architecture.Load(Path.Combine(outDir, "architecture.json"));
        using var loaded = HfCheckpoint.LoadModel(outDir);
        Assert.Equal(arch.Params(HfCheckpoint.LoadConfig(tiny.Dir)), loaded.Config.TotalParams);
        Assert.True(loaded.Config.TotalParams <= 0.7 * HfCheckpoint.LoadConfig(tiny.Dir).TotalParams);

        var again = CliProcess.Run("prune", "--model", tiny.Dir, "--out", outDir);
        Assert.Equal(2, again.ExitCode); // never overwrites without --force
    }
}
