using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Pairs;
using NasPrune.Evaluator.Perplexity;

namespace NasPrune.Search.Campaign;

/// <summary>evolution/result.json: the evolution peer's best architecture, its objective and its ordered evaluations.</summary>
public sealed record EvolutionPeerRecord(string BestArchitecture, double BestObjective, long SpentWindows, IReadOnlyList<RealEvaluation> Trace);

/// <summary>
/// Runs the predictor-free peer (<see cref="EvolutionPeer"/>) on real evaluations with NasPrune's budget of
/// window-evaluations. Its measurements go to evolution/full and evolution/screens as they finish, memoised, so after
/// a crash the deterministic search replays itself from disk and measures only what it had not.
/// </summary>
public static class EvolutionPeerStage
{
    public sealed record Outcome(EvolutionPeerResult Result, PairRecord BestRow, IReadOnlyList<RealEvaluation> Trace);

    public static Outcome Run(CampaignConfig c, CampaignPaths paths, PairEvaluator evaluator, PruningSpace space, BudgetBand band,
        Architecture start, long budget, IProgressReporter reporter)
    {
        var options = c.PeerEvolutionFor(budget);
        var settings = evaluator.Settings with { Windows = options.ScreenWindows };
        using var screener = options.ScreenWindows < options.FullWindows ? new PairEvaluator(evaluator.Prepared, settings) : null;
        var memo = new MemoizedEvaluations(evaluator, screener, paths.EvolutionPairs, paths.EvolutionScreens, c.Seed);
        int calls = 0;
        var result = reporter.Track($"evolution peer ({budget:N0} window-evaluations)", (int)Math.Min(int.MaxValue, budget), progress =>
        {
            long spent = 0;
            return new EvolutionPeer(space).Run(options, band, start, (a, windows) =>
            {
                var row = windows >= options.FullWindows || screener is null
                    ? memo.Full(a, PairSource.Evolution, calls++)
                    : memo.Screen(a, PairSource.Evolution, calls++);
                spent += windows;
                progress.Report((int)Math.Min(int.MaxValue, spent));
                return c.ObjectiveOf(row);
            });
        });
        JsonFile.SaveIfChanged(paths.EvolutionResult, new EvolutionPeerRecord(result.Best.ToJson().ToJsonString(), result.BestObjective, result.SpentWindows, result.Trace));
        reporter.Log($"evolution peer: best {c.ObjectiveName} {result.BestObjective:F4} ({result.Best.Id}) after {result.SpentWindows:N0} of {budget:N0} window-evaluations");
        return new Outcome(result, memo.Measured(result.Best.Id)!, result.Trace);
    }
}
