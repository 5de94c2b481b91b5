using NasPrune.Predictor;

namespace NasPrune.Cli.Commands;

/// <summary>PNG figures written next to a trained predictor (ScottPlot): predicted vs measured, and the learning curve.</summary>
public static class PredictorPlots
{
    public static string ScatterPath(string modelPath) => Path.ChangeExtension(modelPath, ".scatter.png");
    public static string CurvePath(string modelPath) => Path.ChangeExtension(modelPath, ".learning-curve.png");

    public static void Scatter(string path, double[] measured, double[] predicted, string target, string source, MetricSet metrics)
    {
        var plot = new ScottPlot.Plot();
        var points = plot.Add.ScatterPoints(measured, predicted);
        points.MarkerSize = 5;
        double lo = Math.Min(measured.Min(), predicted.Min()), hi = Math.Max(measured.Max(), predicted.Max());
        var diagonal = plot.Add.Line(lo, lo, hi, hi);
        diagonal.LinePattern = ScottPlot.LinePattern.Dashed;
        plot.Title($"predictor on {source}: τ = {metrics.KendallTau:F3}, ρ = {metrics.Spearman:F3}, R² = {metrics.R2:F3}");
        plot.XLabel($"measured {target}");
        plot.YLabel($"predicted {target}");
        plot.SavePng(path, 800, 700);
    }

    public static void LearningCurve(string path, IReadOnlyList<LearningPoint> curve, string evaluatedOn)
    {
        var plot = new ScottPlot.Plot();
        foreach (var group in curve.Where(p => p.Pairs > 0).GroupBy(p => p.Model))
        {
            var line = plot.Add.Scatter(group.Select(p => (double)p.Pairs).ToArray(), group.Select(p => p.KendallTau).ToArray());
            line.LegendText = group.Key;
        }
        foreach (var proxy in curve.Where(p => p.Pairs == 0))
        {
            var line = plot.Add.HorizontalLine(proxy.KendallTau);
            line.LegendText = proxy.Model;
            line.LinePattern = ScottPlot.LinePattern.Dotted;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic();
        plot.Title($"Kendall τ on {evaluatedOn} vs training pairs");
        plot.XLabel("training pairs");
        plot.YLabel("Kendall τ");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 900, 600);
    }
}
