using MathNet.Numerics.Random;
using MathNet.Numerics.Statistics;

namespace NasPrune.Common.Statistics;

/// <summary>A point estimate of a difference and its bootstrap percentile interval.</summary>
public sealed record BootstrapInterval(double Estimate, double Lo, double Hi)
{
    /// <summary>The interval lies wholly on one side of zero: only then does a report claim a difference.</summary>
    public bool ExcludesZero => Lo > 0 || Hi < 0;
}

/// <summary>
/// Paired percentile bootstrap of a difference between two methods measured on the same test items (windows,
/// questions, minimal pairs). Both methods are resampled with the same indices, so the item-to-item variation they
/// share (hard windows are hard for both) cancels and the interval is far narrower than two separate intervals.
/// Items may come in strata (zero-shot tasks, BLiMP paradigms) that are resampled separately, so every resample
/// keeps each stratum's size, as the reported mean over strata does. The generator is seeded, and every call
/// restarts it, so every comparison on the same strata uses the same resamples and a rerun gives the same interval.
/// </summary>
public sealed class PairedBootstrap
{
    public const int DefaultResamples = 2000;
    public const double DefaultLevel = 0.95;

    public int Resamples { get; }
    public double Level { get; }
    public int Seed { get; }

    public PairedBootstrap(int seed, int resamples = DefaultResamples, double level = DefaultLevel)
    {
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "at least one resample");
        if (level is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(level), level, "a level between 0 and 1");
        (Seed, Resamples, Level) = (seed, resamples, level);
    }

    /// <summary>
    /// Intervals of a vector statistic (several outputs share the same resamples). <paramref name="statistic"/>
    /// receives one index array per stratum, as long as the stratum, and returns its outputs; the estimate is the
    /// statistic on the items as they are (every index once, in order).
    /// </summary>
    public BootstrapInterval[] Intervals(IReadOnlyList<int> strata, Func<IReadOnlyList<int[]>, double[]> statistic)
    {
        if (strata.Count == 0 || strata.Any(n => n < 1)) throw new ArgumentException("every stratum needs at least one item", nameof(strata));
        var indices = strata.Select(n => Enumerable.Range(0, n).ToArray()).ToArray();
        double[] estimate = statistic(indices);
        // One item per stratum: every resample is the sample itself, and a zero-width interval would claim certainty
        // from no evidence of spread (a one-window test split, say). No interval then, so no difference is claimed.
        if (strata.All(n => n == 1))
            return estimate.Select(e => new BootstrapInterval(e, double.NegativeInfinity, double.PositiveInfinity)).ToArray();
        var draws = estimate.Select(_ => new double[Resamples]).ToArray();
        var random = new MersenneTwister(Seed, threadSafe: false);
        for (int r = 0; r < Resamples; r++)
        {
            for (int s = 0; s < indices.Length; s++)
                for (int i = 0; i < indices[s].Length; i++) indices[s][i] = random.Next(indices[s].Length);
            double[] values = statistic(indices);
            for (int k = 0; k < values.Length; k++) draws[k][r] = values[k];
        }
        double tail = (1 - Level) / 2;
        return estimate.Select((e, k) =>
        {
            Array.Sort(draws[k]);
            // R7 (linear interpolation between order statistics): numpy's and R's default quantile.
            return new BootstrapInterval(e, SortedArrayStatistics.QuantileCustom(draws[k], tail, QuantileDefinition.R7),
                SortedArrayStatistics.QuantileCustom(draws[k], 1 - tail, QuantileDefinition.R7));
        }).ToArray();
    }

    /// <summary>
    /// Mean of A minus mean of B over paired items, averaged over strata with equal weight (one stratum: the plain
    /// mean difference; zero-shot tasks or BLiMP paradigms: the difference of the reported unweighted averages).
    /// Computed as the mean of per-item differences, so a constant shift comes back exactly. An empty stratum (both
    /// methods scored 0 on it, as the reported averages count it) adds a zero difference but still counts in the mean.
    /// </summary>
    public BootstrapInterval MeanDifference(IReadOnlyList<double[]> a, IReadOnlyList<double[]> b)
    {
        CheckPaired(a.Select(x => x.Length).ToList(), b.Select(x => x.Length).ToList());
        var diff = a.Select((x, s) => x.Select((v, i) => v - b[s][i]).ToArray()).Where(d => d.Length > 0).ToArray();
        int strata = a.Count;
        return Intervals(diff.Select(d => d.Length).ToList(), idx =>
        {
            double total = 0;
            for (int s = 0; s < diff.Length; s++)
            {
                double sum = 0;
                foreach (int i in idx[s]) sum += diff[s][i];
                total += sum / idx[s].Length;
            }
            return [total / strata];
        })[0];
    }

    /// <summary>
    /// Perplexity difference over paired windows, PPL = exp(Σ nll / Σ tokens) of the resampled windows: the absolute
    /// difference PPL_A − PPL_B, and the relative one (PPL_A / PPL_B − 1) in percent.
    /// </summary>
    public (BootstrapInterval Absolute, BootstrapInterval RelativePercent) PerplexityDifference(
        IReadOnlyList<double> nllA, IReadOnlyList<long> tokensA, IReadOnlyList<double> nllB, IReadOnlyList<long> tokensB)
    {
        CheckPaired([nllA.Count, tokensA.Count], [nllB.Count, tokensB.Count]);
        if (nllA.Count != tokensA.Count) throw new ArgumentException("one token count per window");
        var both = Intervals([nllA.Count], idx =>
        {
            double a = Ppl(nllA, tokensA, idx[0]), b = Ppl(nllB, tokensB, idx[0]);
            return [a - b, (a / b - 1) * 100];
        });
        return (both[0], both[1]);
    }

    static double Ppl(IReadOnlyList<double> nll, IReadOnlyList<long> tokens, int[] idx)
    {
        double sum = 0;
        long count = 0;
        foreach (int i in idx)
        {
            sum += nll[i];
            count += tokens[i];
        }
        return Math.Exp(sum / count);
    }

    static void CheckPaired(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (!a.SequenceEqual(b))
            throw new ArgumentException($"paired samples need the same items: sizes {string.Join("/", a)} against {string.Join("/", b)}");
    }
}
