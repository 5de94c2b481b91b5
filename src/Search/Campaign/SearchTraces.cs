using System.Text.Json;
using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Search.Campaign;

/// <summary>One search method's anytime record in search/anytime.json: its ordered real evaluations and the curve of them.</summary>
public sealed record MethodTrace(CampaignMethod Method, long SpentWindows, double Best, IReadOnlyList<AnytimePoint> Curve, IReadOnlyList<RealEvaluation> Trace);

/// <summary>search/anytime.json: every search method's real evaluations against NasPrune's window-evaluation budget.</summary>
public sealed record AnytimeRecord(long BudgetWindows, IReadOnlyList<MethodTrace> Methods)
{
    public static AnytimeRecord Load(string path) => JsonFile.Load<AnytimeRecord>(path, "anytime record (the search stage writes it)");
}

/// <summary>
/// The ordered logs of real evaluations (<see cref="RealEvaluation"/>) that the anytime comparison plots: which
/// candidate each search measured, in which order, at what fidelity, so that every method is charged the
/// window-evaluations it really spent.
/// </summary>
public static class SearchTraces
{
    /// <summary>Full-fidelity rows in the order given (random search: its stream order).</summary>
    public static IReadOnlyList<RealEvaluation> OfRows(IEnumerable<PairRecord> rows, CampaignConfig c) =>
        rows.Select((r, i) => new RealEvaluation(i, r.ArchId, r.EvalWindows, c.ObjectiveOf(r), true)).ToList();

    /// <summary>
    /// NasPrune: the initial pairs in stream order, then per active round the fresh candidates, the screens and the
    /// confirmations, in the order the round measured them.
    /// </summary>
    public static IReadOnlyList<RealEvaluation> NasPrune(IReadOnlyList<PairRecord> initial, IReadOnlyList<ActiveRound> rounds, CampaignConfig c)
    {
        var trace = OfRows(initial, c).ToList();
        void Add(string id, int windows, double value, bool full) => trace.Add(new RealEvaluation(trace.Count, id, windows, value, full));
        foreach (var r in rounds)
        {
            for (int i = 0; i < (r.FreshIds?.Count ?? 0); i++) Add(r.FreshIds![i], c.Pairs.Windows, r.FreshMeasured![i], true);
            for (int i = 0; i < (r.ScreenedIds?.Count ?? 0); i++) Add(r.ScreenedIds![i], r.ScreenWindows, r.ScreenMeasured![i], false);
            for (int i = 0; i < r.EvaluatedIds.Count; i++) Add(r.EvaluatedIds[i], c.Pairs.Windows, r.Measured[i], true);
        }
        return trace;
    }

    public static void Save(string path, IReadOnlyDictionary<CampaignMethod, IReadOnlyList<RealEvaluation>> traces, long budget)
    {
        var methods = traces.Select(t =>
        {
            var curve = AnytimeCurve.Of(t.Value);
            return new MethodTrace(t.Key, t.Value.Sum(e => (long)e.Windows), curve.Count > 0 ? curve[^1].Best : double.NaN, curve, t.Value);
        }).ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        JsonFile.SaveIfChanged(path, new AnytimeRecord(budget, methods));
    }

    /// <summary>
    /// The first point of a curve at or below a value (the window-evaluations a method needed to reach it), or null if
    /// it never did.
    /// </summary>
    public static long? WindowsToReach(IReadOnlyList<AnytimePoint> curve, double value) =>
        curve.FirstOrDefault(p => p.Best <= value + 1e-12)?.Windows;
}
