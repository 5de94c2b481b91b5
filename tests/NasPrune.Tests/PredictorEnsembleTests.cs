using MathNet.Numerics.Distributions;
using NasPrune.Common;
using NasPrune.Predictor;
using Xunit;
using NasPrune.Search;

namespace NasPrune.Tests;

/// <summary>The bootstrap ensemble's spread and the acquisition functions the active loop ranks candidates by.</summary>
public sealed class PredictorEnsembleTests
{
    static readonly ModelConfig Config = ModelConfig.Load(Path.Combine(DataDirectory.DefaultModel(), "config.json"));
    static readonly PredictorOptions Fast = new() { NumberOfTrees = 60, LearningRate = 0.1 };

    [Fact]
    public void TheSpreadShrinksWhereTrainingDataAreDense()
    {
        // 150 pairs keep 75–85 % of the parameters, 8 keep 55–65 %: the second region is sparsely covered.
        var dense = SyntheticPairs.Generate(Config, 150, seed: 1, minKept: 0.75, maxKept: 0.85);
        var sparse = SyntheticPairs.Generate(Config, 8, seed: 2, minKept: 0.55, maxKept: 0.65);
        var training = dense.Concat(sparse).GroupBy(p => p.ArchId).Select(g => g.First()).ToList();
        var ensemble = PredictorEnsemble.Train(training, Config, SyntheticPairs.Profile(Config), Fast, members: 8);
        Assert.Equal(8, ensemble.Members.Count);

        var inDense = new PairSet(SyntheticPairs.Generate(Config, 60, seed: 3, minKept: 0.75, maxKept: 0.85), Config).Architectures;
        var inSparse = new PairSet(SyntheticPairs.Generate(Config, 60, seed: 4, minKept: 0.55, maxKept: 0.65), Config).Architectures;
        double denseSpread = ensemble.Predict(inDense).Spread.Average();
        double sparseSpread = ensemble.Predict(inSparse).Spread.Average();
        Assert.True(sparseSpread > 2 * denseSpread, $"spread where data are sparse {sparseSpread:F5}, dense {denseSpread:F5}");

        // The mean is the members' average, and the spread their sample standard deviation.
        var (mean, spread) = ensemble.Predict(inDense.Take(3).ToList());
        for (int i = 0; i < 3; i++)
        {
            var values = ensemble.Members.Select(m => m.PredictMeasure([inDense[i]])[0]).ToArray();
            Assert.Equal(values.Average(), mean[i], 12);
            Assert.Equal(Math.Sqrt(values.Sum(v => (v - values.Average()) * (v - values.Average())) / (values.Length - 1)), spread[i], 12);
        }
    }

    [Fact]
    public void TheEnsembleIsDeterministicAndOneMemberHasNoSpread()
    {
        var pairs = SyntheticPairs.Generate(Config, 60, seed: 5);
        var candidates = new PairSet(SyntheticPairs.Generate(Config, 20, seed: 6), Config).Architectures;
        var a = PredictorEnsemble.Train(pairs, Config, null, Fast, 4).Predict(candidates);
        var b = PredictorEnsemble.Train(pairs, Config, null, Fast, 4).Predict(candidates);
        Assert.Equal(a.Mean, b.Mean);
        Assert.Equal(a.Spread, b.Spread);
        var single = PredictorEnsemble.Train(pairs, Config, null, Fast, 1);
        Assert.Equal(AccuracyPredictor.Train(pairs, Config, null, Fast).PredictMeasure(candidates), single.Predict(candidates).Mean);
        Assert.All(single.Predict(candidates).Spread, s => Assert.Equal(0, s));
        Assert.Throws<UserError>(() => PredictorEnsemble.Train(pairs, Config, null, Fast, 0));
    }

    [Fact]
    public void ExpectedImprovementAgreesWithMonteCarloAndItsLimits()
    {
        var random = new Random(7);
        foreach (var (mean, spread, best) in new[] { (1.0, 0.5, 1.2), (2.0, 0.3, 1.5), (0.0, 2.0, 0.0), (5.0, 0.01, 4.0) })
        {
            var normal = new Normal(mean, spread, random);
            double sum = 0;
            const int n = 400_000;
            for (int i = 0; i < n; i++) sum += Math.Max(best - normal.Sample(), 0);
            double ei = Acquisition.ExpectedImprovement(mean, spread, best);
            Assert.True(Math.Abs(ei - sum / n) < 4 * spread / Math.Sqrt(n) + 1e-6, $"EI({mean}, {spread}, {best}) = {ei}, Monte Carlo {sum / n}");
            Assert.True(ei >= Math.Max(best - mean, 0) - 1e-12); // never below the plain improvement
        }
        // No spread: the plain improvement; more spread at the same mean: more expected improvement.
        Assert.Equal(0.3, Acquisition.ExpectedImprovement(1.0, 0, 1.3), 12);
        Assert.Equal(0, Acquisition.ExpectedImprovement(1.0, 0, 0.7));
        Assert.True(Acquisition.ExpectedImprovement(1.0, 0.4, 0.9) > Acquisition.ExpectedImprovement(1.0, 0.2, 0.9));
        // Scores are "lower is better": −EI, mean − κ·spread, or the mean.
        double[] m = [1.0, 1.1], s = [0.01, 0.5];
        Assert.Equal([1.0 - 2 * 0.01, 1.1 - 2 * 0.5], Acquisition.Score(AcquisitionKind.Lcb, m, s, 1.0, kappa: 2));
        Assert.Equal(m, Acquisition.Score(AcquisitionKind.Mean, m, s, 1.0, 1));
        var ei2 = Acquisition.Score(AcquisitionKind.Ei, m, s, 1.0, 1);
        Assert.True(ei2[1] < ei2[0], "the uncertain candidate is worth more to try");
    }
}
