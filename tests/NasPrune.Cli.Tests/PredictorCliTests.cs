using System.Text.Json;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Predictor;
using Xunit;
using NasPrune.Search;

namespace NasPrune.Tests;

/// <summary><c>nasprune predictor</c> through the real program (see <c>PredictorTests</c> for the library).</summary>
public sealed class PredictorCliTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-predictor-" + Guid.NewGuid().ToString("N"));
    static readonly ModelConfig Config = ModelConfig.Load(Path.Combine(DataDirectory.DefaultModel(), "config.json"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static void WritePairs(string pairsDir, IReadOnlyCollection<PairRecord> rows, ImportanceProfile? profile)
    {
        Directory.CreateDirectory(Path.Combine(pairsDir, "shard-0-of-1"));
        PairStore.WriteFile(Path.Combine(pairsDir, "shard-0-of-1", "part-0.parquet"), rows);
        profile?.Save(Path.Combine(pairsDir, ImportanceProfile.FileName));
    }

    /// <summary>train → eval → predict through the CLI; a pair set of another base model is a one-line error (exit 2).</summary>
    [Fact]
    public void CliTrainEvalPredictAndForeignPairsError()
    {
        string hash = HfCheckpoint.ModelHash(DataDirectory.DefaultModel());
        string train = Path.Combine(dir, "train"), held = Path.Combine(dir, "held"), foreign = Path.Combine(dir, "foreign");
        WritePairs(train, SyntheticPairs.Generate(Config, 120, seed: 11, baseHash: hash).ToList(), SyntheticPairs.Profile(Config, hash));
        WritePairs(held, SyntheticPairs.Generate(Config, 40, seed: 12, baseHash: hash).ToList(), SyntheticPairs.Profile(Config, hash));
        WritePairs(foreign, SyntheticPairs.Generate(Config, 20, seed: 13, baseHash: "0123456789ab").ToList(), null);
        string model = Path.Combine(dir, "out", "p.zip");

        var r = CliProcess.Run("predictor", "train", "--pairs", train, "--heldout", held, "--out", model, "--folds", "3",
            "--curve-sizes", "50", "--curve-repeats", "1", "--trees", "100", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var doc = JsonDocument.Parse(r.Stdout))
            Assert.Equal(120, doc.RootElement.GetProperty("training_pairs").GetInt32());
        foreach (var f in new[] { model, PredictorCard.PathFor(model), Path.ChangeExtension(model, ".scatter.png"), Path.ChangeExtension(model, ".learning-curve.png") })
            Assert.True(File.Exists(f), f);

        r = CliProcess.Run("predictor", "eval", "--predictor", model, "--pairs", held, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        // The command's figures are the saved predictor's, recomputed here from the library on the same pairs.
        var saved = AccuracyPredictor.Load(model);
        var heldSet = new PairSet(PairStore.ReadAll(held), Config, held);
        var expected = PredictorMetrics.All(saved.Targets(heldSet), saved.PredictTarget(heldSet.Architectures));
        using (var doc = System.Text.Json.JsonDocument.Parse(r.Stdout))
        {
            var first = doc.RootElement.GetProperty("scores")[0].GetProperty("metrics");
            Assert.Equal(expected.Count, first.GetProperty("count").GetInt32());
            Assert.Equal(expected.KendallTau, first.GetProperty("kendall_tau").GetDouble(), 12);
            Assert.Equal(expected.Rmse, first.GetProperty("rmse").GetDouble(), 12);
        }

        var arch = Path.Combine(dir, "arch.json");
        var one = new PairSet(SyntheticPairs.Generate(Config, 3, seed: 14, baseHash: hash), Config).Architectures[2];
        one.Save(arch);
        r = CliProcess.Run("predictor", "predict", "--predictor", model, "--arch", arch, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var doc = System.Text.Json.JsonDocument.Parse(r.Stdout))
        {
            Assert.Equal(one.Id, doc.RootElement.GetProperty("arch_id").GetString());
            Assert.Equal(saved.PredictTarget([one])[0], doc.RootElement.GetProperty("prediction").GetDouble(), 12);
            Assert.Equal(saved.PredictMeasure([one])[0], doc.RootElement.GetProperty("predicted_nll").GetDouble(), 12);
        }

        r = CliProcess.Run("predictor", "eval", "--predictor", model, "--pairs", foreign);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("nasprune: error: ", r.Stderr);
        Assert.Contains("0123456789ab", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);

        r = CliProcess.Run("predictor", "train", "--pairs", train, "--out", model);
        Assert.Equal(2, r.ExitCode); // never overwrites a predictor
    }
}
