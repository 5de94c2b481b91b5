namespace NasPrune.Search;

/// <summary>A point of an anytime curve: window-evaluations spent so far and the best full-fidelity objective by then.</summary>
/// <param name="Windows">Cumulative window-evaluations up to and including this evaluation.</param>
/// <param name="Best">Lowest full-fidelity objective so far; +∞ until the first full evaluation.</param>
public sealed record AnytimePoint(long Windows, double Best);

/// <summary>
/// Best-so-far against cost, the fair comparison between searches that spend real evaluations differently (a
/// predictor-guided loop, a screening evolution): every evaluation adds its windows to the cost, but only full
/// evaluations may lower the best, because a screen on a few windows is a noisy, cheaper estimate that a search
/// could not report as its result. Monotone non-increasing by construction.
/// </summary>
public static class AnytimeCurve
{
    /// <summary>One point per trace entry, in trace order. NaN objectives never set the best.</summary>
    public static IReadOnlyList<AnytimePoint> Of(IReadOnlyList<RealEvaluation> trace)
    {
        var points = new List<AnytimePoint>(trace.Count);
        long spent = 0;
        double best = double.PositiveInfinity;
        foreach (var e in trace)
        {
            spent += e.Windows;
            if (e.Full && e.Objective < best) best = e.Objective;
            points.Add(new AnytimePoint(spent, best));
        }
        return points;
    }
}
