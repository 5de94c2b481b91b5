using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>How well predictions match measurements: one row of the CV / held-out tables.</summary>
public sealed record MetricSet(int Count, double Rmse, double R2, double Spearman, double KendallTau, double TopKPrecision)
{
    /// <summary>The mean of several fold results (counts summed): what k-fold cross-validation reports.</summary>
    public static MetricSet Mean(IReadOnlyList<MetricSet> folds) => new(
        folds.Sum(f => f.Count), folds.Average(f => f.Rmse), folds.Average(f => f.R2), folds.Average(f => f.Spearman),
        folds.Average(f => f.KendallTau), folds.Average(f => f.TopKPrecision));
}

/// <summary>
/// Regression and rank metrics on two equally long arrays (measured, predicted). Lower is better for both
/// arrays (a loss), which only matters for <see cref="TopKPrecision"/>. Ties use average ranks (Spearman) and
/// Kendall's τ-b, so a constant predictor scores 0, not a random value.
/// </summary>
public static class PredictorMetrics
{
    public static MetricSet All(IReadOnlyList<double> measured, IReadOnlyList<double> predicted, double topFraction = 0.1) =>
        new(measured.Count, Rmse(measured, predicted), R2(measured, predicted), Spearman(measured, predicted),
            KendallTau(measured, predicted), TopKPrecision(measured, predicted, topFraction));

    /// <summary>Rank metrics only (for proxies that have no units: RMSE and R² are NaN).</summary>
    public static MetricSet RankOnly(IReadOnlyList<double> measured, IReadOnlyList<double> score, double topFraction = 0.1) =>
        new(measured.Count, double.NaN, double.NaN, Spearman(measured, score), KendallTau(measured, score), TopKPrecision(measured, score, topFraction));

    public static double Rmse(IReadOnlyList<double> measured, IReadOnlyList<double> predicted)
    {
        Check(measured, predicted);
        double s = 0;
        for (int i = 0; i < measured.Count; i++) s += (measured[i] - predicted[i]) * (measured[i] - predicted[i]);
        return Math.Sqrt(s / measured.Count);
    }

    /// <summary>Coefficient of determination 1 − SS_res/SS_tot (negative when worse than predicting the mean).</summary>
    public static double R2(IReadOnlyList<double> measured, IReadOnlyList<double> predicted)
    {
        Check(measured, predicted);
        double mean = measured.Average(), res = 0, tot = 0;
        for (int i = 0; i < measured.Count; i++)
        {
            res += (measured[i] - predicted[i]) * (measured[i] - predicted[i]);
            tot += (measured[i] - mean) * (measured[i] - mean);
        }
        return tot == 0 ? double.NaN : 1 - res / tot;
    }

    /// <summary>Spearman's ρ: Pearson correlation of the average ranks (ties share their mean rank).</summary>
    public static double Spearman(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        Check(a, b);
        return Pearson(AverageRanks(a), AverageRanks(b));
    }

    public static double Pearson(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        Check(a, b);
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Count; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return saa == 0 || sbb == 0 ? 0 : sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>
    /// Kendall's τ-b = (concordant − discordant) / √((n₀ − n₁)(n₀ − n₂)), n₁/n₂ the pairs tied in a/b. O(n²):
    /// the pair sets here hold hundreds of rows.
    /// </summary>
    public static double KendallTau(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        Check(a, b);
        long concordant = 0, discordant = 0, tiedA = 0, tiedB = 0, n0 = 0;
        for (int i = 0; i < a.Count; i++)
            for (int j = i + 1; j < a.Count; j++)
            {
                n0++;
                int da = Math.Sign(a[i] - a[j]), db = Math.Sign(b[i] - b[j]);
                if (da == 0) tiedA++;
                if (db == 0) tiedB++;
                if (da == 0 || db == 0) continue;
                if (da == db) concordant++; else discordant++;
            }
        double denominator = Math.Sqrt((double)(n0 - tiedA) * (n0 - tiedB));
        return denominator == 0 ? 0 : (concordant - discordant) / denominator;
    }

    /// <summary>
    /// Share of the truly best <paramref name="fraction"/> (lowest measured) that are also among the predicted best
    /// <paramref name="fraction"/> (lowest predicted); k = max(1, round(n·fraction)). Ties broken by index.
    /// </summary>
    public static double TopKPrecision(IReadOnlyList<double> measured, IReadOnlyList<double> predicted, double fraction = 0.1)
    {
        Check(measured, predicted);
        if (!(fraction > 0 && fraction <= 1)) throw new UserError($"top-k fraction {fraction}: must lie in (0, 1]");
        int k = Math.Max(1, (int)Math.Round(measured.Count * fraction));
        var trueBest = Enumerable.Range(0, measured.Count).OrderBy(i => measured[i]).ThenBy(i => i).Take(k).ToHashSet();
        var predictedBest = Enumerable.Range(0, predicted.Count).OrderBy(i => predicted[i]).ThenBy(i => i).Take(k);
        return (double)predictedBest.Count(trueBest.Contains) / k;
    }

    /// <summary>1-based ranks, ties sharing the mean of the ranks they span.</summary>
    public static double[] AverageRanks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]]) end++;
            double rank = (start + end) / 2.0 + 1;
            for (int k = start; k <= end; k++) ranks[order[k]] = rank;
            start = end + 1;
        }
        return ranks;
    }

    static void Check(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"metric inputs differ in length ({a.Count} vs {b.Count})");
        if (a.Count < 2) throw new UserError($"metrics need at least 2 rows, got {a.Count}");
    }
}
