using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;
using Xunit;
using NasPrune.Search;

namespace NasPrune.Tests;

/// <summary>The accuracy predictor end to end on synthetic pairs of the embedded model's shape.</summary>
public sealed class PredictorTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-predictor-" + Guid.NewGuid().ToString("N"));
    static readonly ModelConfig Config = ModelConfig.Load(Path.Combine(DataDirectory.DefaultModel(), "config.json"));
    static readonly PredictorOptions Fast = new() { NumberOfTrees = 150, LearningRate = 0.1 };

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void LearnsAKnownMonotoneDependenceWithTauAboveNinety()
    {
        var train = SyntheticPairs.Generate(Config, 300, seed: 1);
        var test = new PairSet(SyntheticPairs.Generate(Config, 150, seed: 2), Config);
        var predictor = AccuracyPredictor.Train(train, Config, SyntheticPairs.Profile(Config), Fast);
        double tau = PredictorMetrics.KendallTau(test.Nll, predictor.PredictTarget(test.Architectures));
        Assert.True(tau > 0.9, $"Kendall τ {tau:F3} on held-out synthetic pairs");
    }

    [Fact]
    public void SaveLoadGivesIdenticalPredictions()
    {
        var pairs = SyntheticPairs.Generate(Config, 120, seed: 3);
        var candidates = new PairSet(SyntheticPairs.Generate(Config, 60, seed: 4), Config).Architectures;
        var predictor = AccuracyPredictor.Train(pairs, Config, SyntheticPairs.Profile(Config), Fast with { Target = PredictorTarget.DeltaUniform });
        string path = Path.Combine(dir, "p.zip");
        predictor.Save(path);
        Assert.True(File.Exists(PredictorCard.PathFor(path)));
        var loaded = AccuracyPredictor.Load(path);
        Assert.Equal(predictor.PredictTarget(candidates), loaded.PredictTarget(candidates));
        Assert.Equal(predictor.PredictMeasure(candidates), loaded.PredictMeasure(candidates));
        Assert.Equal(predictor.Card.ToJson(), loaded.Card.ToJson());
        Assert.Equal(PredictorTarget.DeltaUniform, loaded.Card.Target);
        // The card spells the target as the command line does, in both places it appears (cards written while the
        // target was a string read unchanged).
        var card = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(PredictorCard.PathFor(path)))!;
        Assert.Equal("delta-uniform", card["target"]!.GetValue<string>());
        Assert.Equal("delta-uniform", card["options"]!["target"]!.GetValue<string>());
    }

    [Fact]
    public void TargetNamesParseAndRoundTrip()
    {
        foreach (var t in PredictorTargets.All)
            Assert.Equal(t, PredictorTargets.Parse(t.Name(), "--target"));
        Assert.Equal(["nll", "delta-uniform", "kl"], PredictorTargets.All.Select(t => t.Name()));
        var error = Assert.Throws<UserError>(() => PredictorTargets.Parse("delta_uniform", "--target"));
        Assert.Equal("--target: 'delta_uniform' is not one of nll, delta-uniform, kl", error.Message);
    }

    /// <summary>The fast path walks the trees itself; it must give ML.NET's numbers (float rounding aside).</summary>
    [Theory]
    [InlineData(PredictorModelKind.FastTree)]
    [InlineData(PredictorModelKind.LightGbm)]
    [InlineData(PredictorModelKind.Linear)]
    public void FastPathEqualsMlNetTransformAndPredictionEngine(PredictorModelKind kind)
    {
        var pairs = SyntheticPairs.Generate(Config, 100, seed: 5);
        var candidates = new PairSet(SyntheticPairs.Generate(Config, 80, seed: 6), Config).Architectures;
        var predictor = AccuracyPredictor.Train(pairs, Config, SyntheticPairs.Profile(Config), Fast with { Model = kind });
        var fast = predictor.PredictTarget(candidates);
        var transform = predictor.PredictTransform(candidates);
        var engine = predictor.PredictRowByRow(candidates);
        for (int i = 0; i < fast.Length; i++)
        {
            Assert.Equal(transform[i], fast[i], 4);
            Assert.Equal(transform[i], engine[i], 6);
        }
    }

    [Fact]
    public void UniformReferenceInterpolatesAndExtrapolatesLinearly()
    {
        var u = new UniformReference([0.80, 0.85], [4.0, 3.8]);
        Assert.Equal(3.9, u.At(0.825), 9);
        Assert.Equal(4.2, u.At(0.75), 9);
        Assert.Equal(3.7, u.At(0.875), 9);
    }

    [Fact]
    public void DeltaUniformTargetIsZeroOnTheAnchors()
    {
        var pairs = new PairSet(SyntheticPairs.Generate(Config, 50, seed: 7), Config);
        var reference = UniformReference.FromPairs(pairs.Items, Config, "test");
        Assert.Equal(2, reference.ParamRatio.Length); // the two anchors the generator (like the sampler) puts first
        var target = AccuracyPredictor.Targets(pairs, PredictorTarget.DeltaUniform, reference);
        for (int i = 0; i < pairs.Count; i++)
            if (PredictorTargets.IsUniform(pairs.Items[i].Arch, Config)) Assert.Equal(0, target[i], 9);
    }

    [Fact]
    public void PairsOfAnotherBaseModelAreAUserError()
    {
        var predictor = AccuracyPredictor.Train(SyntheticPairs.Generate(Config, 60, seed: 8), Config, null, Fast);
        var other = new PairSet(SyntheticPairs.Generate(Config, 20, seed: 9, baseHash: "0123456789ab"), Config);
        var e = Assert.Throws<UserError>(() => predictor.RequireSameBase(other, "other-pairs"));
        Assert.Contains("0123456789ab", e.Message);
        Assert.Throws<UserError>(() => predictor.PredictTarget(other.Architectures));
        Assert.Throws<UserError>(() => new PairSet([.. SyntheticPairs.Generate(Config, 5, 1), .. SyntheticPairs.Generate(Config, 5, 1, baseHash: "0123456789ab")], Config));
    }

    [Fact]
    public void CrossValidationRanksThePredictorAboveTheParameterProxyOnSyntheticPairs()
    {
        var pairs = new PairSet(SyntheticPairs.Generate(Config, 150, seed: 10), Config);
        var (scores, _, _) = PredictorStudy.CrossValidate(pairs, SyntheticPairs.Profile(Config), Fast, new StudyOptions(Folds: 3));
        double tree = scores.Single(s => s.Model == PredictorStudy.Name(PredictorModelKind.FastTree)).Metrics.KendallTau;
        double proxy = scores.Single(s => s.Model == PredictorStudy.ProxyParams).Metrics.KendallTau;
        Assert.True(tree > proxy, $"fasttree τ {tree:F3} vs params proxy {proxy:F3}");
        Assert.Equal(6, scores.Count); // four learners, two proxies
    }

    /// <summary>
    /// The synthetic loss is a function of relative depth, so a depth-invariant predictor of an 8-layer family ranks
    /// a 6-layer GQA family's candidates zero-shot, and the per-layer predictor refuses to.
    /// </summary>
    [Fact]
    public void DepthInvariantPredictorTransfersZeroShotToAnotherFamily()
    {
        var other = ModelConfig.Uniform(vocab: 4096, hidden: 256, layers: 6, heads: 8, kvHeads: 4, ffn: 640, maxPositions: 256);
        var source = new PairSet(SyntheticPairs.Generate(Config, 200, seed: 15), Config);
        var pool = new PairSet(SyntheticPairs.Generate(other, 60, seed: 16, baseHash: "otherfamily1"), other);
        var held = new PairSet(SyntheticPairs.Generate(other, 60, seed: 17, baseHash: "otherfamily1"), other);
        var result = TransferStudy.Run(source, SyntheticPairs.Profile(Config), pool, held, SyntheticPairs.Profile(other, "otherfamily1"), Fast, [25], 1, 1);
        Assert.True(result.ZeroShot.KendallTau > 0.5, $"zero-shot τ {result.ZeroShot.KendallTau:F3}");
        Assert.Single(result.Rows);
        var perLayer = AccuracyPredictor.Train(source, SyntheticPairs.Profile(Config), Fast);
        Assert.Throws<UserError>(() => perLayer.PredictOtherFamily(held.Architectures, other, SyntheticPairs.Profile(other, "otherfamily1")));
    }
}
