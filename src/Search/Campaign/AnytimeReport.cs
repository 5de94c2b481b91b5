using System.Globalization;
using System.Text;

namespace NasPrune.Search.Campaign;

/// <summary>
/// The report's "how good per real evaluation" section: each search method's best real validation objective
/// against the window-evaluations it had spent (the NAS field's anytime comparison), as a plot and a table at
/// fixed shares of the budget, and how many window-evaluations NasPrune needed to reach the evolution peer's final
/// value.
/// </summary>
public static class AnytimeReport
{
    static readonly double[] Shares = [0.25, 0.5, 0.75, 1.0];

    public static void Append(StringBuilder md, CampaignPaths paths, string objectiveLabel)
    {
        if (!File.Exists(paths.Anytime)) return;
        var record = AnytimeRecord.Load(paths.Anytime);
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("## Best real validation objective per window-evaluation").AppendLine();
        md.AppendLine(inv, $"Budget: {record.BudgetWindows:N0} window-evaluations (what NasPrune spent; a full evaluation costs as many as its windows, a screen fewer). Each method's best full-fidelity validation {objectiveLabel} after a share of the budget:").AppendLine();
        md.AppendLine("| method | spent | " + string.Join(" | ", Shares.Select(s => $"at {s * 100:F0} %")) + " |");
        md.AppendLine("|---|---:|" + string.Concat(Shares.Select(_ => "---:|")));
        foreach (var m in record.Methods)
            md.AppendLine(inv, $"| {m.Method.Key()} | {m.SpentWindows:N0} | {string.Join(" | ", Shares.Select(s => Format(BestAt(m.Curve, (long)(s * record.BudgetWindows)))))} |");
        md.AppendLine();
        var ours = record.Methods.FirstOrDefault(m => m.Method == CampaignMethod.NasPrune);
        var evolution = record.Methods.FirstOrDefault(m => m.Method == CampaignMethod.Evolution);
        if (ours is not null && evolution is not null && double.IsFinite(evolution.Best))
        {
            long? needed = SearchTraces.WindowsToReach(ours.Curve, evolution.Best);
            md.AppendLine(needed is long n
                ? string.Create(inv, $"NasPrune reached the evolution peer's final value ({evolution.Best:F4}) after {n:N0} window-evaluations, {100.0 * n / evolution.SpentWindows:F0} % of the peer's {evolution.SpentWindows:N0}.")
                : string.Create(inv, $"NasPrune never reached the evolution peer's final value ({evolution.Best:F4}) within its {ours.SpentWindows:N0} window-evaluations.")).AppendLine();
        }
        Plot(Path.Combine(paths.Root, "anytime.png"), record, objectiveLabel);
        md.AppendLine("![Best real validation objective against window-evaluations](anytime.png)").AppendLine();
    }

    /// <summary>The best value of a curve once at most <paramref name="windows"/> had been spent (+∞ before the first full evaluation).</summary>
    public static double BestAt(IReadOnlyList<AnytimePoint> curve, long windows) =>
        curve.LastOrDefault(p => p.Windows <= windows)?.Best ?? double.PositiveInfinity;

    static string Format(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–";

    static void Plot(string path, AnytimeRecord record, string objectiveLabel)
    {
        var plot = new ScottPlot.Plot();
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var m in record.Methods)
        {
            var points = m.Curve.Where(p => double.IsFinite(p.Best)).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => (double)p.Windows).ToArray(), points.Select(p => p.Best).ToArray());
            line.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            line.MarkerSize = 0;
            line.LegendText = m.Method.Key();
            // The first full evaluations of a random start are far off; scale to the last three quarters of the budget.
            lo = Math.Min(lo, points[^1].Best);
            hi = Math.Max(hi, BestAt(points, record.BudgetWindows / 4));
        }
        if (double.IsFinite(lo) && double.IsFinite(hi) && hi > lo) plot.Axes.SetLimitsY(lo - 0.05 * (hi - lo), hi + 0.1 * (hi - lo));
        plot.Title("Best real validation objective against real window-evaluations spent");
        plot.XLabel("window-evaluations");
        plot.YLabel($"best validation {objectiveLabel}");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 900, 550);
    }
}
