using NasPrune.Common.Statistics;

namespace NasPrune.Search.Campaign;

/// <summary>A relative perplexity difference, (PPL / PPL_against − 1) in percent, with its interval.</summary>
public sealed record RelativeDifference(double Estimate, double Lo, double Hi);

/// <summary>
/// One paired difference, the row's method minus <paramref name="Against"/> on the same test items, with its
/// bootstrap percentile interval; <paramref name="ExcludesZero"/> is the only case a report claims a difference.
/// </summary>
public sealed record Comparison(CampaignMethod Against, double Estimate, double Lo, double Hi, bool ExcludesZero,
    RelativeDifference? RelativePct = null)
{
    public static Comparison Of(CampaignMethod against, BootstrapInterval d, BootstrapInterval? relative = null) =>
        new(against, d.Estimate, d.Lo, d.Hi, d.ExcludesZero, relative is null ? null : new RelativeDifference(relative.Estimate, relative.Lo, relative.Hi));
}

/// <summary>A metric's differences to uniform (null for uniform itself) and to the best other non-dense method of the recovery.</summary>
public sealed record MetricConfidence(Comparison? VsUniform, Comparison? VsBestPeer);

/// <summary>The intervals of one non-dense result row, keyed by results.json's metric names.</summary>
public sealed record RowConfidence(CampaignMethod Method, string Recovery, IReadOnlyDictionary<string, MetricConfidence> Metrics);

/// <summary>results.json's <c>confidence</c> section: how the intervals were made, and the intervals.</summary>
public sealed record ConfidenceSection(string Procedure, double Level, int Resamples, int Seed, string Difference,
    IReadOnlyDictionary<string, string> Resampling, IReadOnlyList<RowConfidence> Rows);

/// <summary>
/// Paired bootstrap intervals of every non-dense row's differences on the test metrics, made from the final samples
/// files (<see cref="FinalSamples"/>): to uniform of the same recovery (does the search beat the naive answer?) and to
/// the best other method of that recovery by point estimate (is the winner distinguishable from the runner-up?).
/// Generic over the methods present, so new peers get intervals without changes here.
/// </summary>
public static class CampaignConfidence
{
    /// <summary>A metric: its results.json name, whether lower is better, and how its samples are read and compared.</summary>
    sealed record Metric(string Name, bool LowerIsBetter, Func<FinalSamples, object?> Select, string Resampling);

    static readonly Metric[] Metrics =
    [
        Perplexity("wikitext2"), Perplexity("ptb"), Perplexity("heldout"),
        new("blimp_acc", false, s => s.Blimp, "pairs resampled within each paradigm; the statistic is the mean over paradigms, as blimp_acc"),
        new("mmlu_acc", false, s => s.Mmlu, "questions resampled over all subjects pooled; the statistic is the pooled accuracy, as mmlu_acc"),
        new("zeroshot_avg", false, s => s.Zeroshot, "items resampled within each task; the statistic is the mean over tasks of each task's reported metric, as zeroshot_avg"),
    ];

    static Metric Perplexity(string task) => new($"{task}_ppl", true, s => s.Perplexity.FirstOrDefault(p => p.Task == task),
        "windows resampled; PPL = exp(Σ nll / Σ tokens) over the resampled windows");

    /// <summary>
    /// The section for <paramref name="rows"/>, reading each row's samples with <paramref name="samplesOf"/> (null: none
    /// kept, so no intervals for that row). One bootstrap generator seeded with <paramref name="seed"/> per comparison,
    /// so every comparison on a metric sees the same resamples.
    /// </summary>
    public static ConfidenceSection Compute(IReadOnlyList<ResultRow> rows, Func<ResultRow, FinalSamples?> samplesOf, int seed,
        int resamples = PairedBootstrap.DefaultResamples, double level = PairedBootstrap.DefaultLevel)
    {
        var bootstrap = new PairedBootstrap(seed, resamples, level);
        var pruned = rows.Where(r => r.Method != CampaignMethod.Dense).Select(r => (Row: r, Samples: samplesOf(r))).Where(r => r.Samples is not null).ToList();
        var result = new List<RowConfidence>();
        foreach (var (row, samples) in pruned)
        {
            var peers = pruned.Where(p => p.Row.Recovery == row.Recovery && p.Row.Method != row.Method).ToList();
            var metrics = new Dictionary<string, MetricConfidence>();
            foreach (var metric in Metrics)
            {
                var own = metric.Select(samples!);
                if (own is null) continue;
                var measured = peers.Select(p => (p.Row.Method, Data: metric.Select(p.Samples!))).Where(p => p.Data is not null).ToList();
                var uniform = measured.FirstOrDefault(p => p.Method == CampaignMethod.Uniform);
                var best = measured.Count == 0 ? default
                    : metric.LowerIsBetter ? measured.MinBy(p => Point(p.Data!)) : measured.MaxBy(p => Point(p.Data!));
                if (uniform.Data is null && best.Data is null) continue;
                metrics[metric.Name] = new MetricConfidence(
                    uniform.Data is null ? null : Compare(bootstrap, own, uniform.Data, uniform.Method),
                    best.Data is null ? null : Compare(bootstrap, own, best.Data, best.Method));
            }
            result.Add(new RowConfidence(row.Method, row.Recovery, metrics));
        }
        return new ConfidenceSection("paired percentile bootstrap (both methods resampled with the same item indices)", level, resamples, seed,
            "row method minus against (PPL: negative is better; accuracy: positive is better); relative_pct: PPL / PPL_against − 1, in percent",
            Metrics.ToDictionary(m => m.Name, m => m.Resampling), result);
    }

    /// <summary>
    /// The paired interval of one method's test perplexity minus another's on one task (e.g. NasPrune against each
    /// peer in a seed summary), or null when either has no samples for it.
    /// </summary>
    public static Comparison? PerplexityAgainst(FinalSamples own, FinalSamples against, string task, int seed)
    {
        var a = own.Perplexity.FirstOrDefault(p => p.Task == task);
        var b = against.Perplexity.FirstOrDefault(p => p.Task == task);
        return a is null || b is null ? null : Compare(new PairedBootstrap(seed), a, b, against.Method);
    }

    /// <summary>The metric on the samples as measured (the row's reported value, up to float rounding).</summary>
    static double Point(object data) => data switch
    {
        WindowSamples w => Math.Exp(w.Nll.Sum() / w.Tokens.Sum()),
        IReadOnlyList<ItemSamples> strata => strata.Average(s => s.Mean),
        _ => throw new ArgumentException($"unknown samples {data.GetType().Name}"),
    };

    static Comparison Compare(PairedBootstrap bootstrap, object own, object against, CampaignMethod method)
    {
        if (own is WindowSamples a && against is WindowSamples b)
        {
            var (absolute, relative) = bootstrap.PerplexityDifference(a.Nll, a.Tokens, b.Nll, b.Tokens);
            return Comparison.Of(method, absolute, relative);
        }
        var x = (IReadOnlyList<ItemSamples>)own;
        var y = (IReadOnlyList<ItemSamples>)against;
        if (!x.Select(s => s.Name).SequenceEqual(y.Select(s => s.Name)))
            throw new InvalidOperationException($"samples against {method.Key()} cover other strata: {string.Join(",", x.Select(s => s.Name))} vs {string.Join(",", y.Select(s => s.Name))}");
        return Comparison.Of(method, bootstrap.MeanDifference(Doubles(x), Doubles(y)));
    }

    static double[][] Doubles(IReadOnlyList<ItemSamples> strata) => strata.Select(s => s.Correct.Select(c => (double)c).ToArray()).ToArray();
}
