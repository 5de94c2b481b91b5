using System.Globalization;
using System.Text;
using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Search.Campaign;

/// <summary>Mean and sample standard deviation of one figure over seeds (std 0 for one seed).</summary>
public sealed record MeanStd(double Mean, double Std, int N)
{
    public static MeanStd Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return new MeanStd(double.NaN, double.NaN, 0);
        return new MeanStd(v.Average(), v.Length < 2 ? 0 : MathNet.Numerics.Statistics.Statistics.StandardDeviation(v), v.Length);
    }

    public string Format(string format) => N == 0 ? "–"
        : $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {Std.ToString(format, CultureInfo.InvariantCulture)}";
}

/// <summary>One method's figures over the seeds (recovery none).</summary>
public sealed record MethodSummary(CampaignMethod Method, MeanStd Wikitext2Ppl, MeanStd PtbPpl, MeanStd HeldoutPpl, MeanStd? BlimpAcc,
    MeanStd ValidationObjective, MeanStd WindowEvaluations);

/// <summary>One seed's search figures: how the loop's predictor ranked, what it cost, how fast it got there.</summary>
public sealed record SeedSearchFigures(string Run, long Seed, double? MeanTauOnNew, double? PredictorShare, double? NasPruneWindowsToEvolutionBest,
    long? EvolutionSpentWindows, IReadOnlyDictionary<string, double> LossRemovedVsUniform,
    IReadOnlyDictionary<CampaignMethod, IReadOnlyDictionary<string, Comparison>>? NasPruneVsPeers = null);

/// <summary>
/// summary.json / summary.md of a multi-seed campaign: per method, mean ± std over seeds of the test perplexities,
/// BLiMP, the validation objective its search reached and the window-evaluations it spent; per seed, the share of
/// uniform's loss (PPL − dense PPL) that NasPrune removes on each text, the mean τ of the active loop on its own new
/// points, the predictor's share of the campaign's wall time, and the window-evaluations NasPrune needed to reach
/// the evolution peer's final validation value (as a share of the peer's).
/// </summary>
public sealed record SeedSummary(IReadOnlyList<string> Runs, string Objective, double BudgetRemoved, IReadOnlyList<MethodSummary> Methods,
    IReadOnlyList<SeedSearchFigures> Seeds)
{
    public const string JsonName = "summary.json";
    public const string MarkdownName = "summary.md";

    public static SeedSummary Write(string root, IReadOnlyList<string> runs)
    {
        var results = runs.Select(r => CampaignResults.Load(new CampaignPaths(r).Results)).ToList();
        var methods = results.SelectMany(r => r.Rows).Select(r => r.Method).Distinct().Order().Select(m =>
        {
            var rows = results.Select(r => r.Rows.FirstOrDefault(x => x.Method == m && x.Recovery == "none")).OfType<ResultRow>().ToList();
            var blimp = rows.Where(r => r.BlimpAcc is not null).Select(r => r.BlimpAcc!.Value).ToList();
            return new MethodSummary(m, MeanStd.Of(rows.Select(r => r.Wikitext2Ppl)), MeanStd.Of(rows.Select(r => r.PtbPpl)), MeanStd.Of(rows.Select(r => r.HeldoutPpl)),
                blimp.Count > 0 ? MeanStd.Of(blimp) : null, MeanStd.Of(rows.Select(r => r.ValidationNll ?? double.NaN)), MeanStd.Of(rows.Select(r => (double)r.WindowEvaluations)));
        }).ToList();
        var seeds = runs.Zip(results).Select(p => Figures(p.First, p.Second)).ToList();
        var summary = new SeedSummary(runs.Select(r => Path.GetRelativePath(root, r)).ToList(), results[0].Objective, results[0].BudgetRemoved, methods, seeds);
        JsonFile.Save(Path.Combine(root, JsonName), summary);
        AtomicFile.WriteAllText(Path.Combine(root, MarkdownName), summary.ToMarkdown());
        return summary;
    }

    static SeedSearchFigures Figures(string run, CampaignResults results)
    {
        var paths = new CampaignPaths(run);
        var campaign = System.Text.Json.JsonDocument.Parse(File.ReadAllText(paths.CampaignJson)).RootElement;
        long seed = campaign.GetProperty("config").GetProperty("seed").GetInt64();
        var rounds = Enumerable.Range(1, 1000).Select(paths.SearchRound).TakeWhile(File.Exists)
            .Select(p => JsonFile.Load<ActiveRound>(p, "search round record", new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower })).ToList();
        var taus = rounds.Select(r => r.KendallTauOnAllNew ?? r.KendallTauOnNew).Where(double.IsFinite).ToList();
        var timings = StageTimings.Load(paths.Timings);
        double total = timings.Values.Sum();
        double predictor = timings.GetValueOrDefault("first_predictor") + rounds.Sum(r => r.PredictorSeconds);
        double? share = total > 0 ? predictor / total : null;
        double? toEvolution = null;
        long? evolutionSpent = null;
        if (File.Exists(paths.Anytime))
        {
            var anytime = AnytimeRecord.Load(paths.Anytime);
            var ours = anytime.Methods.FirstOrDefault(m => m.Method == CampaignMethod.NasPrune);
            var evolution = anytime.Methods.FirstOrDefault(m => m.Method == CampaignMethod.Evolution);
            if (ours is not null && evolution is not null)
            {
                evolutionSpent = evolution.SpentWindows;
                toEvolution = SearchTraces.WindowsToReach(ours.Curve, evolution.Best) is long n ? n : double.PositiveInfinity;
            }
        }
        var dense = results.Rows.FirstOrDefault(r => r.Method == CampaignMethod.Dense);
        var uniform = results.Rows.FirstOrDefault(r => r.Method == CampaignMethod.Uniform && r.Recovery == "none");
        var nasprune = results.Rows.FirstOrDefault(r => r.Method == CampaignMethod.NasPrune && r.Recovery == "none");
        var removed = new SortedDictionary<string, double>(StringComparer.Ordinal);
        if (dense is not null && uniform is not null && nasprune is not null)
        {
            removed["wikitext2"] = LossRemoved(dense.Wikitext2Ppl, uniform.Wikitext2Ppl, nasprune.Wikitext2Ppl);
            removed["ptb"] = LossRemoved(dense.PtbPpl, uniform.PtbPpl, nasprune.PtbPpl);
            removed["heldout"] = LossRemoved(dense.HeldoutPpl, uniform.HeldoutPpl, nasprune.HeldoutPpl);
        }
        // NasPrune against every peer on each test text: paired bootstrap over the test windows (recovery none).
        var versus = new SortedDictionary<CampaignMethod, IReadOnlyDictionary<string, Comparison>>();
        string oursSamples = paths.FinalSamples(CampaignMethod.NasPrune, "none");
        if (File.Exists(oursSamples))
        {
            var own = FinalSamples.Load(oursSamples);
            foreach (var peer in new[] { CampaignMethod.Uniform, CampaignMethod.Adaptive, CampaignMethod.Random, CampaignMethod.Evolution })
            {
                string path = paths.FinalSamples(peer, "none");
                if (!File.Exists(path)) continue;
                var other = FinalSamples.Load(path);
                versus[peer] = Texts.Select(t => (t, CampaignConfidence.PerplexityAgainst(own, other, t, unchecked((int)seed))))
                    .Where(p => p.Item2 is not null).ToDictionary(p => p.t, p => p.Item2!);
            }
        }
        return new SeedSearchFigures(Path.GetFileName(run), seed, taus.Count > 0 ? taus.Average() : null, share, toEvolution, evolutionSpent, removed, versus);
    }

    static readonly string[] Texts = ["wikitext2", "ptb", "heldout"];

    /// <summary>The share of uniform's loss (PPL − dense PPL) that a method removes: 1 − loss(method)/loss(uniform).</summary>
    public static double LossRemoved(double dense, double uniform, double method) => 1 - (method - dense) / (uniform - dense);

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(inv, $"# NasPrune over {Runs.Count} seeds: {BudgetRemoved:P0} removed, objective {Objective}").AppendLine();
        md.AppendLine("Test splits, recovery none; mean ± sample standard deviation over the seeds (" + string.Join(", ", Runs) + ").").AppendLine();
        md.AppendLine("| method | WikiText-2 PPL | PTB PPL | held-out PPL | BLiMP | validation NLL of the pick | real window-evaluations |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var m in Methods)
            md.AppendLine(inv, $"| {m.Method.Key()} | {m.Wikitext2Ppl.Format("F2")} | {m.PtbPpl.Format("F2")} | {m.HeldoutPpl.Format("F2")} | " +
                               $"{(m.BlimpAcc is { } b ? new MeanStd(b.Mean * 100, b.Std * 100, b.N).Format("F1") + " %" : "–")} | {m.ValidationObjective.Format("F4")} | {m.WindowEvaluations.Format("F0")} |");
        md.AppendLine().AppendLine("Per seed: share of uniform's loss removed by NasPrune (goal ≥ 60 % at 20 % removed, ≥ 70 % at 50 %), the active loop's mean τ on its own new points (goal ≥ 0.5), " +
                                   "the predictor's share of the campaign's wall time (goal < 5 %), and the window-evaluations NasPrune needed to reach the evolution peer's final validation value, as a share of the peer's (goal ≤ 25 %).").AppendLine();
        md.AppendLine("| run | loss removed: WikiText-2 | PTB | held-out | mean τ | predictor share | NasPrune to evolution's best |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var s in Seeds)
            md.AppendLine(inv, $"| {s.Run} | {Pct(s.LossRemovedVsUniform.GetValueOrDefault("wikitext2", double.NaN))} | {Pct(s.LossRemovedVsUniform.GetValueOrDefault("ptb", double.NaN))} | " +
                               $"{Pct(s.LossRemovedVsUniform.GetValueOrDefault("heldout", double.NaN))} | {(s.MeanTauOnNew is double t ? t.ToString("F3", inv) : "–")} | {(s.PredictorShare is double p ? Pct(p) : "–")} | " +
                               $"{(s.NasPruneWindowsToEvolutionBest is double w && s.EvolutionSpentWindows is long e ? (double.IsFinite(w) ? w.ToString("N0", inv) + " (" + Pct(w / e) + ")" : "never") : "–")} |");
        var peers = Seeds.SelectMany(s => s.NasPruneVsPeers?.Keys ?? []).Distinct().Order().ToList();
        if (peers.Count > 0)
        {
            md.AppendLine().AppendLine("NasPrune's test PPL minus each peer's, with the 95 % paired bootstrap interval over test windows; ✓ where NasPrune is better with the interval excluding zero, ✗ where it is worse with the interval excluding zero.").AppendLine();
            md.AppendLine("| run | peer | WikiText-2 | PTB | held-out |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var s in Seeds)
                foreach (var (peer, texts) in s.NasPruneVsPeers ?? new SortedDictionary<CampaignMethod, IReadOnlyDictionary<string, Comparison>>())
                    md.AppendLine(inv, $"| {s.Run} | {peer.Key()} | {string.Join(" | ", Texts.Select(t => texts.TryGetValue(t, out var c) ? Cell(c) : "–"))} |");
            md.AppendLine().AppendLine("Seeds in which NasPrune beats the peer on all three texts with every interval excluding zero:").AppendLine();
            foreach (var peer in peers)
            {
                int wins = Seeds.Count(s => s.NasPruneVsPeers?.GetValueOrDefault(peer) is { } t && Texts.All(x => t.TryGetValue(x, out var c) && c.ExcludesZero && c.Estimate < 0));
                md.AppendLine(inv, $"- {peer.Key()}: {wins} of {Seeds.Count}");
            }
        }
        return md.ToString();
    }

    static string Cell(Comparison c) => !double.IsFinite(c.Lo) || !double.IsFinite(c.Hi)
        ? $"{Signed(c.Estimate)} (no interval: one item)"
        : $"{Signed(c.Estimate)} [{Signed(c.Lo)}, {Signed(c.Hi)}]{(c.ExcludesZero ? (c.Estimate < 0 ? " ✓" : " ✗") : "")}";

    /// <summary>A signed value to two decimals; one that rounds to zero reads 0.00 (not "-+0.00").</summary>
    static string Signed(double v)
    {
        double r = Math.Round(v, 2);
        return r == 0 ? "0.00" : r.ToString("+0.00;-0.00", CultureInfo.InvariantCulture);
    }

    static string Pct(double v) => double.IsFinite(v) ? (v * 100).ToString("F1", CultureInfo.InvariantCulture) + " %" : "–";
}
