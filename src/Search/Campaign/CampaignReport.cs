using System.Globalization;
using System.Text;
using System.Text.Json;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;

namespace NasPrune.Search.Campaign;

/// <summary>
/// report.md and its figures, made from a finished run directory alone (results.json, pairs, search rounds), so
/// `nasprune report` can redo them without a model: the final table, its paired bootstrap intervals (<see cref="ConfidenceReport"/>), the Pareto front of validation PPL vs kept
/// parameters over every evaluated pair, the winner's per-layer widths against uniform, the predictor's
/// predictions on the points it chose (before seeing them), and the search's progress per round.
/// </summary>
public static class CampaignReport
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string Write(CampaignPaths paths)
    {
        var results = CampaignResults.Load(paths.Results);
        var pairs = PairStore.ReadAll(paths.Pairs);
        var random = Directory.Exists(paths.RandomPairs) && PairStore.Files(paths.RandomPairs).Count > 0 ? PairStore.ReadAll(paths.RandomPairs) : [];
        var rounds = Enumerable.Range(1, 1000).Select(paths.SearchRound).TakeWhile(File.Exists)
            .Select(p => JsonFile.Load<ActiveRound>(p, "search round record", Json)).ToList();

        Pareto(Path.Combine(paths.Root, "pareto.png"), pairs, random, results);
        LayerProfile(Path.Combine(paths.Root, "layer-profile.png"), pairs, results);
        if (rounds.Count > 0)
        {
            PredictorScatter(Path.Combine(paths.Root, "predictor-scatter.png"), rounds, results.Objective);
            Progress(Path.Combine(paths.Root, "search-progress.png"), rounds, pairs, results.Objective);
        }

        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        // Numbers in the report read the same on every machine: every line is formatted with the invariant culture.
        md.AppendLine(inv, $"# NasPrune campaign report").AppendLine();
        md.AppendLine(inv, $"Model `{results.Model}` (hash {results.ModelHash}), {results.BudgetRemoved:P0} of parameters removed, criterion `{results.Criterion}`. ");
        md.AppendLine(inv, $"Test splits, context {results.SeqLen} tokens{(results.MaxWindows is int w ? $", first {w} windows per task" : ", whole splits")}; " +
                      $"BLiMP mean accuracy over its 67 paradigms{(results.BlimpLimit is int b ? $" ({b} pairs each)" : "")}; " +
                      $"MMLU 5-shot{(results.MmluLimit is int m ? $" ({m} questions per subject)" : "")}; zero-shot average of the reported metric over the seven tasks" +
                      $"{(results.ZeroshotLimit is int z ? $" ({z} items each)" : "")}. Search used validation data only.").AppendLine();
        md.AppendLine("| method | recovery | params | FLOPs/token | latency (ms, batch 1) | WikiText-2 PPL | PTB PPL | held-out PPL | BLiMP | MMLU | zero-shot avg | real window-evaluations |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results.Rows)
            md.AppendLine(inv, $"| {r.Method.Key()} | {r.Recovery} | {r.Params:N0} | {r.FlopsPerToken / 1e6:F1} M | {r.LatencyMs:F1} | {r.Wikitext2Ppl:F2} | {r.PtbPpl:F2} | {r.HeldoutPpl:F2} | " +
                                             $"{Percent(r.BlimpAcc)} | {Percent(r.MmluAcc)} | {Percent(r.ZeroshotAvg)} | {r.WindowEvaluations:N0} |");
        md.AppendLine();
        foreach (var recovery in results.Rows.Select(r => r.Recovery).Distinct())
        {
            var ours = results.Rows.FirstOrDefault(r => r.Method == CampaignMethod.NasPrune && r.Recovery == recovery);
            if (ours is null) continue;
            var peers = results.Rows.Where(r => r.Recovery == recovery && r.Method is not (CampaignMethod.Dense or CampaignMethod.NasPrune))
                .Select(p => $"vs {p.Method.Key()} WikiText-2 {Change(ours.Wikitext2Ppl, p.Wikitext2Ppl)}, PTB {Change(ours.PtbPpl, p.PtbPpl)}, held-out {Change(ours.HeldoutPpl, p.HeldoutPpl)}");
            md.AppendLine($"- recovery `{recovery}`: NasPrune {string.Join("; ", peers)}");
        }
        ConfidenceReport.Append(md, results.Confidence);
        md.AppendLine().AppendLine("## Search").AppendLine();
        md.AppendLine(inv, $"{pairs.Count} pairs evaluated on the full validation measure ({pairs.Count(p => p.Source == PairSource.Sample)} initial random, " +
                      $"{pairs.Count(p => p.Source != PairSource.Sample)} by the active loop, which also screened {rounds.Sum(r => r.ScreenedIds?.Count ?? 0)} candidates on fewer windows); " +
                      $"the random-search baseline evaluated {random.Count} more from the same random stream.").AppendLine();
        if (rounds.Count > 0)
        {
            string objective = Label(results.Objective);
            md.AppendLine(inv, $"Objective: validation {objective}.").AppendLine();
            md.AppendLine(inv, $"| round | training pairs | shrunken space (log10 grid points) | predicted best {objective} | real best {objective} | τ on the confirmed | τ on all new full | mean ensemble spread | improved |");
            md.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---|");
            foreach (var r in rounds)
                md.AppendLine(inv, $"| {r.Round} | {r.TrainingPairs} | {string.Join(" → ", r.ShrinkLog10Volumes.Select(v => v.ToString("F1", inv)))} | " +
                                                 $"{r.PredictedBest:F4} | {r.RealBest:F4} | {r.KendallTauOnNew:F3} | {(r.KendallTauOnAllNew is double t ? t.ToString("F3", inv) : "–")} | " +
                                                 $"{(r.PredictedSpread is { Count: > 0 } sp ? sp.Average().ToString("F4", inv) : "–")} | {(r.Improved ? "yes" : "no")} |");
            md.AppendLine();
            var taus = rounds.Select(r => r.KendallTauOnAllNew ?? r.KendallTauOnNew).Where(double.IsFinite).ToList();
            if (taus.Count > 0) md.AppendLine(inv, $"Mean τ over rounds on the loop's own new points: {taus.Average():F3} (goal ≥ 0.5).").AppendLine();
        }
        AnytimeReport.Append(md, paths, Label(results.Objective));
        if (File.Exists(paths.Continuations))
        {
            md.AppendLine("## Greedy continuations").AppendLine();
            md.AppendLine(inv, $"{GreedyContinuations.NewTokens} new tokens, greedy, each method's model without recovery:").AppendLine();
            foreach (var group in JsonFile.Load<List<Continuation>>(paths.Continuations, "greedy continuations").GroupBy(c => c.Prompt))
            {
                md.AppendLine(inv, $"Prompt: *{group.Key}*").AppendLine();
                md.AppendLine("| method | continuation |").AppendLine("|---|---|");
                foreach (var c in group)
                    md.AppendLine(inv, $"| {c.Method.Key()} | {c.Text.Replace("|", "\\|").Replace("\n", " ⏎ ")} |");
                md.AppendLine();
            }
        }
        md.AppendLine("![Pareto front](pareto.png)").AppendLine();
        md.AppendLine("![Per-layer widths](layer-profile.png)").AppendLine();
        if (rounds.Count > 0)
        {
            md.AppendLine("![Predictor on the points it chose](predictor-scatter.png)").AppendLine();
            md.AppendLine("![Search progress](search-progress.png)").AppendLine();
        }
        AtomicFile.WriteAllText(paths.Report, md.ToString());
        return paths.Report;
    }

    static string Percent(double? x) => x is double v ? (v * 100).ToString("F1", CultureInfo.InvariantCulture) + " %" : "–";

    static string Change(double ours, double baseline) =>
        ((ours / baseline - 1) * 100).ToString("+0.00;-0.00", CultureInfo.InvariantCulture) + " %";

    static void Pareto(string path, IReadOnlyList<PairRecord> pairs, IReadOnlyList<PairRecord> random, CampaignResults results)
    {
        var plot = new ScottPlot.Plot();
        void Points(IEnumerable<PairRecord> rows, string label, float size)
        {
            var list = rows.ToList();
            if (list.Count == 0) return;
            var s = plot.Add.ScatterPoints(list.Select(r => r.ParamRatio * 100).ToArray(), list.Select(r => r.WikiText2Ppl).ToArray());
            s.MarkerSize = size;
            s.LegendText = label;
        }
        Points(pairs.Where(p => p.Source == PairSource.Sample).Concat(random), "random samples", 4);
        Points(pairs.Where(p => p.Source != PairSource.Sample), "active loop", 6);
        var front = pairs.Concat(random).OrderByDescending(p => p.ParamRatio).Aggregate(new List<PairRecord>(), (acc, p) =>
        {
            if (acc.Count == 0 || p.WikiText2Ppl < acc[^1].WikiText2Ppl) acc.Add(p);
            return acc;
        });
        var line = plot.Add.Scatter(front.Select(r => r.ParamRatio * 100).ToArray(), front.Select(r => r.WikiText2Ppl).ToArray());
        line.LegendText = "Pareto front";
        line.ConnectStyle = ScottPlot.ConnectStyle.StepVertical;
        foreach (var method in new[] { CampaignMethod.Uniform, CampaignMethod.Random, CampaignMethod.NasPrune })
        {
            var id = results.Rows.FirstOrDefault(r => r.Method == method)?.ArchId;
            var row = pairs.Concat(random).FirstOrDefault(p => p.ArchId == id);
            if (row is null) continue;
            var m = plot.Add.ScatterPoints(new[] { row.ParamRatio * 100 }, new[] { row.WikiText2Ppl });
            m.MarkerSize = 12;
            m.MarkerShape = ScottPlot.MarkerShape.FilledDiamond;
            m.LegendText = method.Key();
        }
        // A few broken candidates (PPL in the thousands) would flatten the rest: show up to the 90th percentile.
        var ppl = pairs.Concat(random).Select(p => p.WikiText2Ppl).Order().ToList();
        if (ppl.Count > 0) plot.Axes.SetLimitsY(ppl[0] * 0.98, ppl[(int)(0.9 * (ppl.Count - 1))] * 1.05);
        Save(plot, path, "Validation PPL (pairs measure) vs kept parameters", "kept parameters (%)", "WikiText-2 validation PPL", ScottPlot.Alignment.UpperRight, 900, 600);
    }

    static void LayerProfile(string path, IReadOnlyList<PairRecord> pairs, CampaignResults results)
    {
        var plot = new ScottPlot.Plot();
        foreach (var method in new[] { CampaignMethod.Uniform, CampaignMethod.NasPrune })
        {
            var id = results.Rows.FirstOrDefault(r => r.Method == method)?.ArchId;
            var row = pairs.FirstOrDefault(p => p.ArchId == id);
            if (row is null) continue;
            double[] layers = Enumerable.Range(0, row.HeadRatio.Count).Select(i => (double)i).ToArray();
            var heads = plot.Add.Scatter(layers, row.HeadRatio.Select(v => v * 100).ToArray());
            heads.LegendText = $"{method.Key()} heads";
            var ffn = plot.Add.Scatter(layers, row.FfnRatio.Select(v => v * 100).ToArray());
            ffn.LegendText = $"{method.Key()} FFN";
            ffn.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        Save(plot, path, "Kept width per layer: NasPrune's architecture vs uniform", "layer", "kept (%)", ScottPlot.Alignment.LowerRight, 900, 600);
    }

    /// <summary>How the objective reads in the report's text and axes.</summary>
    static string Label(string objective) => objective == PredictorTarget.Kl.Name() ? "KL(dense ‖ pruned)" : "NLL";

    static void PredictorScatter(string path, IReadOnlyList<ActiveRound> rounds, string objective)
    {
        var plot = new ScottPlot.Plot();
        foreach (var r in rounds.Where(r => r.Measured.Count > 0))
        {
            var s = plot.Add.ScatterPoints(r.Measured.ToArray(), r.Predicted.ToArray());
            s.MarkerSize = 7;
            s.LegendText = $"round {r.Round}";
        }
        var all = rounds.SelectMany(r => r.Measured.Concat(r.Predicted)).ToList();
        if (all.Count > 0)
        {
            var d = plot.Add.Line(all.Min(), all.Min(), all.Max(), all.Max());
            d.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        Save(plot, path, "Predictor on the candidates it chose (predicted before they were measured)", $"measured validation {Label(objective)}", "predicted", ScottPlot.Alignment.UpperLeft, 800, 700);
    }

    static void Progress(string path, IReadOnlyList<ActiveRound> rounds, IReadOnlyList<PairRecord> pairs, string objective)
    {
        var plot = new ScottPlot.Plot();
        double initialBest = pairs.Where(p => p.Source == PairSource.Sample).Select(p => PredictorTargets.Measured(p, PredictorTargets.Parse(objective, "results.json: objective"))).DefaultIfEmpty(double.NaN).Min();
        double[] x = rounds.Select(r => (double)r.Round).Prepend(0).ToArray();
        var real = plot.Add.Scatter(x, rounds.Select(r => r.RealBest).Prepend(initialBest).ToArray());
        real.LegendText = $"real best (validation {Label(objective)})";
        var predicted = plot.Add.Scatter(rounds.Select(r => (double)r.Round).ToArray(), rounds.Select(r => r.PredictedBest).ToArray());
        predicted.LegendText = "predicted best";
        predicted.LinePattern = ScottPlot.LinePattern.Dashed;
        Save(plot, path, "Active search progress (round 0 = initial random pairs)", "round", Label(objective), ScottPlot.Alignment.UpperRight, 800, 500);
    }

    static void Save(ScottPlot.Plot plot, string path, string title, string x, string y, ScottPlot.Alignment legend, int width, int height)
    {
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.ShowLegend(legend);
        plot.SavePng(path, width, height);
    }
}
