using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;
using Xunit;
using NasPrune.Search;

namespace NasPrune.Tests;

/// <summary>The predictor's kl target, on synthetic pairs of a small model shape whose KL is a known function.</summary>
public sealed class PredictorKlTargetTests
{
    static readonly ModelConfig Config = ModelConfig.Uniform(vocab: 64, hidden: 32, layers: 6, heads: 8, kvHeads: 2, ffn: 96, maxPositions: 32);
    static readonly PredictorOptions Fast = new() { NumberOfTrees = 150, LearningRate = 0.1, Target = PredictorTarget.Kl };

    /// <summary>Synthetic pairs whose KL falls with what is kept, and whose NLL is unrelated noise (so an NLL fit would not rank KL).</summary>
    static IReadOnlyList<PairRecord> Pairs(int count, int seed)
    {
        var rng = new Random(seed);
        var rows = SyntheticPairs.Generate(Config, count, seed, minKept: 0.5, maxKept: 0.9, baseHash: "klbase");
        foreach (var r in rows)
        {
            r.WikiText2Kl = SyntheticPairs.Loss(r.ToArchitecture("test"), Config) - 3;
            r.WikiText2Nll = 5 + rng.NextDouble();
        }
        return rows;
    }

    [Fact]
    public void TargetKlLearnsTheKlColumn()
    {
        var train = Pairs(200, 1);
        var test = new PairSet(Pairs(100, 2), Config);
        var predictor = AccuracyPredictor.Train(train, Config, SyntheticPairs.Profile(Config, "klbase"), Fast);
        Assert.Equal(PredictorTarget.Kl, predictor.Card.Target);
        var measured = predictor.Targets(test);
        Assert.Equal(test.Items.Select(p => p.Row.WikiText2Kl!.Value), measured);
        double tau = PredictorMetrics.KendallTau(measured, predictor.PredictTarget(test.Architectures));
        Assert.True(tau > 0.8, $"Kendall τ {tau:F3} on held-out KL");
    }

    [Fact]
    public void PairsWithoutKlAreAUserErrorForTargetKl()
    {
        var rows = SyntheticPairs.Generate(Config, 30, 3, minKept: 0.5, maxKept: 0.9, baseHash: "klbase");
        var e = Assert.Throws<UserError>(() => AccuracyPredictor.Train(rows, Config, null, Fast));
        Assert.Contains("wikitext2_kl", e.Message);
        Assert.Contains("--measure", e.Message);
    }
}
