using MathNet.Numerics.Distributions;
using MathNet.Numerics.Random;
using NasPrune.Common.Statistics;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The paired bootstrap: nominal coverage on data with a known difference, exact edge cases, determinism.</summary>
public sealed class PairedBootstrapTests
{
    [Fact]
    public void TheIntervalOfAKnownMeanDifferenceCoversItAtTheNominalRate()
    {
        // 400 paired datasets: B is item difficulty plus noise, A = B + 0.3 + its own noise, so the true difference is 0.3
        // and the items' shared difficulty is what pairing removes.
        const double truth = 0.3;
        var random = new MersenneTwister(17);
        int covered = 0, datasets = 400;
        for (int d = 0; d < datasets; d++)
        {
            var difficulty = Normal.Samples(random, 0, 2).Take(120).ToArray();
            var b = difficulty.Select(x => x + Normal.Sample(random, 0, 0.5)).ToArray();
            var a = difficulty.Select(x => x + truth + Normal.Sample(random, 0, 0.5)).ToArray();
            var interval = new PairedBootstrap(seed: d).MeanDifference([a], [b]);
            if (interval.Lo <= truth && truth <= interval.Hi) covered++;
        }
        Assert.InRange(covered / (double)datasets, 0.91, 0.98);
    }

    [Fact]
    public void StratifiedAccuracyIntervalsCoverTheDifferenceOfTheReportedAverages()
    {
        // Three tasks of different sizes and accuracies (the zero-shot average): A is right 10 points more often in each.
        var random = new MersenneTwister(3);
        int[] sizes = [40, 90, 150];
        double[] pB = [0.5, 0.3, 0.6];
        int covered = 0, datasets = 400;
        for (int d = 0; d < datasets; d++)
        {
            var a = new double[sizes.Length][];
            var b = new double[sizes.Length][];
            for (int t = 0; t < sizes.Length; t++)
            {
                // Paired: an item easy for B is easy for A (one uniform draw decides both).
                var u = Enumerable.Range(0, sizes[t]).Select(_ => random.NextDouble()).ToArray();
                b[t] = u.Select(x => x < pB[t] ? 1.0 : 0).ToArray();
                a[t] = u.Select(x => x < pB[t] + 0.1 ? 1.0 : 0).ToArray();
            }
            var interval = new PairedBootstrap(seed: 1000 + d).MeanDifference(a, b);
            if (interval.Lo <= 0.1 && 0.1 <= interval.Hi) covered++;
        }
        Assert.InRange(covered / (double)datasets, 0.91, 0.98);
    }

    [Fact]
    public void IdenticalMethodsGiveAZeroWidthIntervalAtZero()
    {
        var x = Normal.Samples(new MersenneTwister(1), 3, 1).Take(50).ToArray();
        var mean = new PairedBootstrap(7).MeanDifference([x, x.Take(9).ToArray()], [x, x.Take(9).ToArray()]);
        Assert.Equal(new BootstrapInterval(0, 0, 0), mean);
        Assert.False(mean.ExcludesZero);

        var nll = x.Select(v => 100 + v).ToArray();
        var tokens = x.Select(_ => 127L).ToArray();
        var (absolute, relative) = new PairedBootstrap(7).PerplexityDifference(nll, tokens, nll, tokens);
        Assert.Equal(new BootstrapInterval(0, 0, 0), absolute);
        Assert.Equal(new BootstrapInterval(0, 0, 0), relative);
    }

    [Fact]
    public void AShiftByAConstantGivesExactlyThatConstant()
    {
        var random = new MersenneTwister(2);
        var b = Enumerable.Range(0, 64).Select(_ => (double)random.Next(100)).ToArray();
        var a = b.Select(v => v + 0.25).ToArray();
        var interval = new PairedBootstrap(11).MeanDifference([a], [b]);
        Assert.Equal(new BootstrapInterval(0.25, 0.25, 0.25), interval);
        Assert.True(interval.ExcludesZero);

        // Perplexity: every window's NLL shifted by c·tokens multiplies every resample's PPL by exp(c).
        var tokens = b.Select(_ => 100L).ToArray();
        var nll = b.Select(v => 300 + v).ToArray();
        var shifted = nll.Select(v => v + 0.05 * 100).ToArray();
        var (_, relative) = new PairedBootstrap(11).PerplexityDifference(shifted, tokens, nll, tokens);
        double expected = (Math.Exp(0.05) - 1) * 100;
        Assert.Equal(expected, relative.Estimate, 1e-9);
        Assert.Equal(expected, relative.Lo, 1e-9);
        Assert.Equal(expected, relative.Hi, 1e-9);
    }

    [Fact]
    public void OneItemPerStratumGivesNoIntervalAndClaimsNothing()
    {
        // One test window each (a campaign with final.max_windows 1): the difference is known, its spread is not.
        var one = new PairedBootstrap(3).MeanDifference([[2.0]], [[1.0]]);
        Assert.Equal(new BootstrapInterval(1, double.NegativeInfinity, double.PositiveInfinity), one);
        Assert.False(one.ExcludesZero);
        var (absolute, relative) = new PairedBootstrap(3).PerplexityDifference([300.0], [100L], [250.0], [100L]);
        Assert.Equal(Math.Exp(3) - Math.Exp(2.5), absolute.Estimate, 9);
        Assert.False(absolute.ExcludesZero);
        Assert.False(relative.ExcludesZero);
        // Strata of one item each are no better; one stratum of two is an interval again.
        Assert.False(new PairedBootstrap(3).MeanDifference([[2.0], [5.0]], [[1.0], [1.0]]).ExcludesZero);
        Assert.True(double.IsFinite(new PairedBootstrap(3).MeanDifference([[2.0, 3.0]], [[1.0, 1.0]]).Lo));
    }

    [Fact]
    public void TheSameSeedGivesTheSameIntervalAndAnotherSeedAnother()
    {
        var random = new MersenneTwister(4);
        var a = Enumerable.Range(0, 80).Select(_ => random.NextDouble() < 0.6 ? 1.0 : 0).ToArray();
        var b = Enumerable.Range(0, 80).Select(_ => random.NextDouble() < 0.5 ? 1.0 : 0).ToArray();
        var first = new PairedBootstrap(42).MeanDifference([a], [b]);
        Assert.Equal(first, new PairedBootstrap(42).MeanDifference([a], [b]));
        Assert.NotEqual(first, new PairedBootstrap(43).MeanDifference([a], [b]));
        Assert.Equal(first.Estimate, a.Average() - b.Average(), 1e-12);
        Assert.True(first.Lo < first.Estimate && first.Estimate < first.Hi);
        Assert.Equal(2000, new PairedBootstrap(42).Resamples);
        Assert.Throws<ArgumentException>(() => new PairedBootstrap(42).MeanDifference([a], [b.Take(79).ToArray()]));
    }
}
