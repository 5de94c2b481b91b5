using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;
using NasPrune.Search;

namespace NasPrune.Search.Campaign;

/// <summary>
/// What one active round did (search/round-&lt;r&gt;.json). Predictions (ensemble means and spreads), measured
/// values and the predicted best are in the objective's units (NLL or KL); the real best is the best by the
/// objective, with its NLL and, for objective kl, its KL. <see cref="EvaluatedIds"/> are the candidates confirmed
/// on the full windows, <see cref="FreshIds"/> the random ones from the shrunken space, <see cref="ScreenedIds"/>
/// the ones screened on <see cref="ScreenWindows"/> windows. τ is Kendall's between mean prediction and measurement:
/// on the confirmed candidates, and on every new full-fidelity point of the round (fresh + confirmed).
/// </summary>
public sealed record ActiveRound(
    int Round, int TrainingPairs, IReadOnlyList<double> ShrinkLog10Volumes, double PredictedBest, string PredictedBestId,
    IReadOnlyList<string> EvaluatedIds, IReadOnlyList<double> Predicted, IReadOnlyList<double> Measured,
    double KendallTauOnNew, double RealBestNll, string RealBestId, bool Improved, JsonNode Bounds, double? RealBestKl = null,
    IReadOnlyList<double>? PredictedSpread = null, IReadOnlyList<string>? FreshIds = null, IReadOnlyList<double>? FreshPredicted = null,
    IReadOnlyList<double>? FreshMeasured = null, IReadOnlyList<string>? ScreenedIds = null, IReadOnlyList<double>? ScreenMeasured = null,
    int ScreenWindows = 0, double? KendallTauOnAllNew = null, long WindowEvaluations = 0, double PredictorSeconds = 0)
{
    /// <summary>The real best's objective value (its KL when recorded, else its NLL).</summary>
    [JsonIgnore] public double RealBest => RealBestKl ?? RealBestNll;
}

/// <summary>
/// The active loop. Each round retrains a bootstrap ensemble of predictors on every full-fidelity pair so far,
/// shrinks the space around what the ensemble's mean predicts best, draws fresh random candidates inside the
/// shrunken space, evolves inside it on an acquisition value (expected improvement over the real best by default, so
/// that a candidate the predictor is unsure about is worth trying), screens the best candidates on a few windows and
/// confirms the best screens on the full windows. All real evaluations are appended as they finish; the loop stops
/// when the real best has not improved for <c>patience</c> rounds or the rounds run out. A round's plan is written
/// before evaluation and its record after; evaluations are memoised on disk (<see cref="MemoizedEvaluations"/>), so a
/// crash resumes the round with the same candidates and skips finished rounds.
/// </summary>
public sealed class ActiveSearch(CampaignPaths paths, CampaignConfig config, MemoizedEvaluations evaluations, PruningSpace space,
    ModelConfig baseConfig, ImportanceProfile profile, IProgressReporter reporter)
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public IReadOnlyList<ActiveRound> Run(IReadOnlyList<PairRecord> initial)
    {
        var band = config.Band;
        var o = config.Active;
        var rounds = new List<ActiveRound>();
        int stale = 0;
        for (int r = 1; r <= o.Rounds && stale < o.Patience; r++)
        {
            string recordPath = paths.SearchRound(r);
            if (File.Exists(recordPath))
            {
                var done = JsonFile.Load<ActiveRound>(recordPath, "search round record", Json);
                rounds.Add(done);
                stale = done.Improved ? 0 : stale + 1;
                continue;
            }
            // The round is computed from exactly the pairs before it: after a crash inside the round, the rows it had
            // already written are left out of its predictor and its best-before, so the resumed round equals the
            // uninterrupted one (they are still memoised, so not evaluated twice).
            var pairs = initial.Concat(evaluations.AllMeasured.Where(p => PairSource.ActiveRound(p.Source) < r))
                .GroupBy(p => p.ArchId).Select(g => g.First()).ToList();
            // Time spent on the predictor's side of the round (training the ensemble, shrinking, evolving, predicting):
            // the cost the issue bounds at 5 % of the campaign.
            var predictorWatch = System.Diagnostics.Stopwatch.StartNew();
            var bestBefore = pairs.MinBy(config.ObjectiveOf)!;
            double bestValue = config.ObjectiveOf(bestBefore);
            var ensemble = PredictorEnsemble.Train(pairs, baseConfig, profile, config.PredictorFor(r), o.Ensemble);
            double[] Mean(IReadOnlyList<Architecture> candidates) => ensemble.Predict(candidates).Mean;
            double[] Acquire(IReadOnlyList<Architecture> candidates)
            {
                var (mean, spread) = ensemble.Predict(candidates);
                return Acquisition.Score(o.Acquisition, mean, spread, bestValue, o.Kappa);
            }

            var plan = LoadPlan(r) ?? MakePlan(r, pairs, bestBefore, band, Mean, Acquire);
            var fresh = plan.Fresh.Select(c => Architecture.FromJson(c.ToJsonString(), paths.SearchPlan(r))).ToList();
            var shortlist = plan.Candidates.Select(c => Architecture.FromJson(c.ToJsonString(), paths.SearchPlan(r))).ToList();
            predictorWatch.Stop();
            string source = PairSource.Active(r);
            int index = 0;
            var freshRows = reporter.Track($"active round {r}: {fresh.Count} fresh candidates", fresh.Count, progress =>
                fresh.Select((a, i) => { var row = evaluations.Full(a, source, index++); progress.Report(i + 1); return row; }).ToList());
            IReadOnlyList<Architecture> confirm = shortlist.Take(o.TopK).ToList();
            List<PairRecord> screenRows = [];
            if (o.Screens)
            {
                screenRows = reporter.Track($"active round {r}: screen {shortlist.Count} on {o.ScreenWindows} windows", shortlist.Count, progress =>
                    shortlist.Select((a, i) => { var row = evaluations.Screen(a, source, index++); progress.Report(i + 1); return row; }).ToList());
                confirm = shortlist.Zip(screenRows).OrderBy(p => config.ObjectiveOf(p.Second)).ThenBy(p => p.First.Id, StringComparer.Ordinal)
                    .Take(o.TopK).Select(p => p.First).ToList();
            }
            var confirmRows = reporter.Track($"active round {r}: confirm {confirm.Count}", confirm.Count, progress =>
                confirm.Select((a, i) => { var row = evaluations.Full(a, source, index++); progress.Report(i + 1); return row; }).ToList());

            predictorWatch.Start();
            var (predicted, spread) = ensemble.Predict(confirm);
            var freshPredicted = ensemble.Predict(fresh).Mean;
            predictorWatch.Stop();
            var measured = confirmRows.Select(config.ObjectiveOf).ToList();
            var freshMeasured = freshRows.Select(config.ObjectiveOf).ToList();
            var bestAfter = evaluations.AllMeasured.Concat(initial).MinBy(config.ObjectiveOf)!;
            bool improved = config.ObjectiveOf(bestAfter) < bestValue - 1e-12;
            double tau = confirm.Count >= 2 ? PredictorMetrics.KendallTau(measured, predicted) : double.NaN;
            var allMeasured = measured.Concat(freshMeasured).ToList();
            var allPredicted = predicted.Concat(freshPredicted).ToList();
            double tauAll = allMeasured.Count >= 2 ? PredictorMetrics.KendallTau(allMeasured, allPredicted) : double.NaN;
            long windows = (long)(fresh.Count + confirm.Count) * evaluations.FullWindows + (long)screenRows.Count * evaluations.ScreenWindows;
            var record = new ActiveRound(r, pairs.Count, plan.Log10Volumes, plan.PredictedBest, plan.PredictedBestId, confirm.Select(c => c.Id).ToList(),
                predicted, measured, tau, bestAfter.WikiText2Nll, bestAfter.ArchId, improved, plan.Bounds,
                config.ObjectiveTarget == PredictorTarget.Kl ? bestAfter.WikiText2Kl : null,
                spread, fresh.Select(a => a.Id).ToList(), freshPredicted, freshMeasured,
                shortlist.Select(a => a.Id).Where(_ => o.Screens).ToList(), screenRows.Select(config.ObjectiveOf).ToList(),
                o.Screens ? o.ScreenWindows : 0, tauAll, windows, predictorWatch.Elapsed.TotalSeconds);
            AtomicFile.WriteAllText(recordPath, JsonSerializer.Serialize(record, Json) + "\n");
            reporter.Log($"round {r}: predicted best {plan.PredictedBest:F4}, real best {config.ObjectiveName} {config.ObjectiveOf(bestAfter):F4} ({(improved ? "improved" : "no improvement")}), " +
                $"τ on the {confirm.Count} confirmed {tau:F3}, on all {allMeasured.Count} new {tauAll:F3}");
            rounds.Add(record);
            stale = improved ? 0 : stale + 1;
        }
        return rounds;
    }

    RoundPlan MakePlan(int r, IReadOnlyList<PairRecord> pairs, PairRecord bestBefore, BudgetBand band,
        Func<IReadOnlyList<Architecture>, double[]> mean, Func<IReadOnlyList<Architecture>, double[]> acquire)
    {
        var o = config.Active;
        var mustKeep = new[] { bestBefore.ToArchitecture(paths.Pairs) };
        var shrink = new SpaceShrinker(space).Shrink(config.ShrinkFor(r), LayerBounds.Full(space.LayerCount), band, mean, mustKeep);
        var seeds = pairs.OrderBy(config.ObjectiveOf).Take(10).Select(p => p.ToArchitecture(paths.Pairs)).ToList();
        var evolution = new EvolutionarySearch(space).Run(config.EvolutionFor(r), shrink.Bounds, band, acquire, seeds);
        bool Unmeasured(Architecture a) => !evaluations.IsMeasured(a.Id);
        // Fresh candidates: a seeded random draw inside the shrunken space (more than needed, as some may be measured).
        var fresh = o.Fresh == 0 ? new List<Architecture>() : new ArchitectureSampler(space)
            .Sample(new SamplerOptions(band, o.Fresh + 32, config.Seed + 100 * r + 7, shrink.Bounds, MaxAttemptsPerCandidate: SpaceShrinker.SamplerAttempts))
            .Where(Unmeasured).Take(o.Fresh).ToList();
        var freshIds = fresh.Select(a => a.Id).ToHashSet();
        var shortlist = evolution.Top.Select(t => t.Architecture).Where(a => Unmeasured(a) && !freshIds.Contains(a.Id))
            .Take(o.Screens ? o.Screen : o.TopK).ToList();
        var best = evolution.Top[0].Architecture;
        var plan = new RoundPlan(shortlist.Select(a => (JsonNode)a.ToJson()).ToList(), fresh.Select(a => (JsonNode)a.ToJson()).ToList(),
            mean([best])[0], best.Id,
            shrink.Rounds.Select(s => s.OutputLog10Volume).Prepend(shrink.Rounds.FirstOrDefault()?.InputLog10Volume ?? 0).ToList(),
            LayerBoundsJson.ToJson(shrink.Bounds));
        // The shrunken space on its own, as `nasprune sample --bounds` reads it (more pairs inside it).
        LayerBoundsJson.Save(paths.SearchBounds(r), shrink.Bounds);
        AtomicFile.WriteAllText(paths.SearchPlan(r), JsonSerializer.Serialize(plan, Json) + "\n");
        return plan;
    }

    /// <summary>A round's candidates, fixed before any of them is evaluated (architectures as their JSON objects).</summary>
    sealed record RoundPlan(List<JsonNode> Candidates, List<JsonNode> Fresh, double PredictedBest, string PredictedBestId, List<double> Log10Volumes, JsonNode Bounds);

    RoundPlan? LoadPlan(int r) =>
        File.Exists(paths.SearchPlan(r)) ? JsonFile.Load<RoundPlan>(paths.SearchPlan(r), "search round plan", Json) : null;
}
