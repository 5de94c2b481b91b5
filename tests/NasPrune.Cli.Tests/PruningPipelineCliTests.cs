using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary><c>nasprune eval --arch</c> and <c>nasprune prune</c> through the real program (see <c>PruningPipelineTests</c> for the library).</summary>
public sealed class PruningPipelineCliTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
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
