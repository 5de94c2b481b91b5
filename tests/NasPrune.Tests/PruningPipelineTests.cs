using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

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
    public void ArchitectureOfAnotherModelIsRejected()
    {
        using var prepared = Prepare();
        var foreign = new Architecture("000000000000", prepared.Space.Full.Layers);
        Assert.Contains("base model", Assert.Throws<UserError>(() => prepared.Apply(foreign)).Message);
    }
}
