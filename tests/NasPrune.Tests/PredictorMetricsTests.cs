using NasPrune.Predictor;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The predictor's metrics against values worked out by hand (ties included).</summary>
public sealed class PredictorMetricsTests
{
    // a = [1, 2, 2, 3], b = [1, 3, 2, 2]. Pairs: (0,1) C, (0,2) C, (0,3) C, (1,2) tied in a, (1,3) D, (2,3) tied in b.
    // τ-b = (3 − 1) / √((6 − 1)(6 − 1)) = 0.4.
    static readonly double[] A = [1, 2, 2, 3], B = [1, 3, 2, 2];

    [Fact]
    public void KendallTauBWithTiesMatchesHandComputation() => Assert.Equal(0.4, PredictorMetrics.KendallTau(A, B), 12);

    // Average ranks: a → [1, 2.5, 2.5, 4], b → [1, 4, 2.5, 2.5]; centred: [−1.5, 0, 0, 1.5] and [−1.5, 1.5, 0, 0];
    // ρ = 2.25 / √(4.5 · 4.5) = 0.5.
    [Fact]
    public void SpearmanWithTiesMatchesHandComputation()
    {
        Assert.Equal([1, 2.5, 2.5, 4], PredictorMetrics.AverageRanks(A));
        Assert.Equal(0.5, PredictorMetrics.Spearman(A, B), 12);
    }

    [Fact]
    public void PerfectAndReversedOrders()
    {
        double[] x = [3, 1, 4, 1.5, 5, 9, 2.6];
        var reversed = x.Select(v => -v).ToArray();
        var monotone = x.Select(v => Math.Exp(v)).ToArray();
        Assert.Equal(1, PredictorMetrics.KendallTau(x, monotone), 12);
        Assert.Equal(1, PredictorMetrics.Spearman(x, monotone), 12);
        Assert.Equal(-1, PredictorMetrics.KendallTau(x, reversed), 12);
        Assert.Equal(-1, PredictorMetrics.Spearman(x, reversed), 12);
        Assert.Equal(0, PredictorMetrics.KendallTau(x, x.Select(_ => 1.0).ToArray())); // constant predictor: τ-b is 0
    }

    [Fact]
    public void RmseAndR2MatchHandComputation()
    {
        double[] measured = [1, 2, 3], predicted = [1, 2, 4];
        Assert.Equal(Math.Sqrt(1.0 / 3), PredictorMetrics.Rmse(measured, predicted), 12);
        Assert.Equal(0.5, PredictorMetrics.R2(measured, predicted), 12); // 1 − 1 / 2
    }

    [Fact]
    public void TopKPrecisionCountsTheTrueBestAmongThePredictedBest()
    {
        double[] measured = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];     // true best 20%: rows 0 and 1
        double[] predicted = [0, 9, 8, 7, 6, 1, 5, 4, 3, 2];    // predicted best 20%: rows 0 and 5
        Assert.Equal(0.5, PredictorMetrics.TopKPrecision(measured, predicted, 0.2), 12);
        Assert.Equal(1, PredictorMetrics.TopKPrecision(measured, measured, 0.1), 12);
    }
}
