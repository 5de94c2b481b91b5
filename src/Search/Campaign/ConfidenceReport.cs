using System.Globalization;
using System.Text;

namespace NasPrune.Search.Campaign;

/// <summary>
/// report.md's interval section, from results.json's <c>confidence</c>: NasPrune's rows in full (every metric, to
/// uniform and to the best peer), the other methods compactly (one line each). It says the rule the text follows: a
/// difference is claimed only where its interval excludes zero, since the test sets are small enough that a
/// perplexity or accuracy gap of a few tenths can be noise.
/// </summary>
public static class ConfidenceReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    static readonly (string Key, string Label)[] Metrics =
    [
        ("wikitext2_ppl", "WikiText-2 PPL"), ("ptb_ppl", "PTB PPL"), ("heldout_ppl", "held-out PPL"),
        ("blimp_acc", "BLiMP"), ("mmlu_acc", "MMLU"), ("zeroshot_avg", "zero-shot avg"),
    ];

    public static void Append(StringBuilder md, ConfidenceSection? section)
    {
        if (section is null || section.Rows.Count == 0) return;
        md.AppendLine();
        md.AppendLine(Inv, $"## {section.Level * 100:0} % paired bootstrap intervals").AppendLine();
        md.AppendLine(Inv, $"Each difference is the row's method minus the named one on the same test windows and items, with a " +
                           $"{section.Level * 100:0} % percentile interval from {section.Resamples:N0} paired bootstrap resamples (seed {section.Seed}): " +
                           $"both methods are resampled with the same indices. PPL: negative is better, the relative change (%) follows; " +
                           $"accuracies in percentage points, positive is better. BLiMP resamples pairs within each paradigm, zero-shot items within " +
                           $"each task, MMLU questions pooled over subjects. **A difference is claimed only where its interval excludes zero** (marked ✓).").AppendLine();

        var ours = section.Rows.Where(r => r.Method == CampaignMethod.NasPrune).ToList();
        if (ours.Count > 0)
        {
            md.AppendLine("| method | recovery | metric | vs uniform | vs best peer |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var row in ours)
                foreach (var (key, label) in Metrics)
                    if (row.Metrics.TryGetValue(key, out var m))
                        md.AppendLine(Inv, $"| {row.Method.Key()} | {row.Recovery} | {label} | {Cell(key, m.VsUniform, named: false)} | {Cell(key, m.VsBestPeer, named: true)} |");
            md.AppendLine();
        }
        var others = section.Rows.Where(r => r.Method != CampaignMethod.NasPrune).ToList();
        if (others.Count > 0)
        {
            md.AppendLine("Other methods, difference to uniform (uniform's own row: to its best peer, named):").AppendLine();
            md.AppendLine("| method | recovery | " + string.Join(" | ", Metrics.Select(m => m.Label)) + " |");
            md.AppendLine("|---|---|" + string.Concat(Metrics.Select(_ => "---|")));
            foreach (var row in others)
                md.AppendLine($"| {row.Method.Key()} | {row.Recovery} | " + string.Join(" | ", Metrics.Select(m =>
                    row.Metrics.TryGetValue(m.Key, out var c) ? c.VsUniform is not null ? Cell(m.Key, c.VsUniform, named: false) : Cell(m.Key, c.VsBestPeer, named: true) : "–")) + " |");
            md.AppendLine();
        }
    }

    /// <summary>"−1.23 [−2.01, −0.47] (−3.1 %) ✓", accuracies in percentage points; the peer's name first when asked.</summary>
    static string Cell(string metric, Comparison? c, bool named)
    {
        if (c is null) return "–";
        bool ppl = metric.EndsWith("_ppl", StringComparison.Ordinal);
        double scale = ppl ? 1 : 100;
        string f(double v) => (v * scale).ToString(ppl ? "+0.00;−0.00;0.00" : "+0.0;−0.0;0.0", Inv);
        var text = new StringBuilder();
        if (named) text.Append(Inv, $"{c.Against.Key()}: ");
        // An interval with infinite ends is none: one item per stratum shows no spread (see PairedBootstrap).
        if (!double.IsFinite(c.Lo) || !double.IsFinite(c.Hi))
            return text.Append(Inv, $"{f(c.Estimate)}{(ppl ? "" : " pp")} (no interval: one item)").ToString();
        text.Append(Inv, $"{f(c.Estimate)}{(ppl ? "" : " pp")} [{f(c.Lo)}, {f(c.Hi)}]");
        if (c.RelativePct is { } r)
            text.Append(Inv, $" ({r.Estimate.ToString("+0.0;−0.0;0.0", Inv)} % [{r.Lo.ToString("+0.0;−0.0;0.0", Inv)}, {r.Hi.ToString("+0.0;−0.0;0.0", Inv)}])");
        if (c.ExcludesZero) text.Append(" ✓");
        return text.ToString();
    }
}
