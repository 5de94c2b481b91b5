using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Pairs;
using NasPrune.Predictor;
using NasPrune.Search;

namespace NasPrune.Search.Campaign;

/// <summary>
/// What one active round did (search/round-&lt;r&gt;.json). Predicted, measured and the predicted best are in the
/// objective's units (NLL or KL); the real best is the best by the objective, with its NLL and, for objective kl, its KL.
/// </summary>
public sealed record ActiveRound(
    int Round, int TrainingPairs, IReadOnlyList<double> ShrinkLog10Volumes, double PredictedBest, string PredictedBestId,
    IReadOnlyList<string> EvaluatedIds, IReadOnlyList<double> Predicted, IReadOnlyList<double> Measured,
    double KendallTauOnNew, double RealBestNll, string RealBestId, bool Improved, JsonNode Bounds, double? RealBestKl = null)
{
    /// <summary>The real best's objective value (its KL when recorded, else its NLL).</summary>
    [JsonIgnore] public double RealBest => RealBestKl ?? RealBestNll;
}

/// <summary>
/// The active loop: each round retrains the predictor on every pair so far, shrinks the space around what it
/// predicts best, evolves inside the shrunken space, and evaluates the top-k new candidates for real (appended to the
/// pairs as they finish). Stops when the real best has not improved for <c>patience</c> rounds or the rounds run out.
/// A round's plan (its candidates) is written before evaluation and its record after, so a crash resumes the round
/// with the same candidates and skips finished rounds.
/// </summary>
public sealed class ActiveSearch(CampaignPaths paths, CampaignConfig config, PairEvaluator evaluator, ModelConfig baseConfig,
    ImportanceProfile profile, IProgressReporter reporter)
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public IReadOnlyList<ActiveRound> Run()
    {
        var space = evaluator.Prepared.Space;
        var band = config.Band;
        var rounds = new List<ActiveRound>();
        int stale = 0;
        for (int r = 1; r <= config.Active.Rounds && stale < config.Active.Patience; r++)
        {
            string recordPath = paths.SearchRound(r);
            if (File.Exists(recordPath))
            {
                var done = JsonFile.Load<ActiveRound>(recordPath, "search round record", Json);
                rounds.Add(done);
                stale = done.Improved ? 0 : stale + 1;
                continue;
            }
            var stored = PairStore.ReadAll(paths.Pairs);
            // The round is computed from exactly the pairs before it: after a crash inside the round, the rows it had
            // already written are left out of its predictor and its best-before, so the resumed round equals the
            // uninterrupted one. They still count as measured, so they are not evaluated twice.
            var pairs = stored.Where(p => !(PairSource.ActiveRound(p.Source) >= r)).ToList();
            // Every measured pair by id; the round's new rows join it as they are written (no re-reading the store).
            var measuredById = stored.GroupBy(p => p.ArchId).ToDictionary(g => g.Key, g => g.First());
            var bestBefore = pairs.MinBy(config.ObjectiveOf)!;
            var predictor = AccuracyPredictor.Train(pairs, baseConfig, profile, config.PredictorFor(r));
            double[] Fitness(IReadOnlyList<Architecture> candidates) => predictor.PredictTarget(candidates);

            var plan = LoadPlan(r);
            if (plan is null)
            {
                var mustKeep = new[] { bestBefore.ToArchitecture(paths.Pairs) };
                var shrink = new SpaceShrinker(space).Shrink(config.ShrinkFor(r), LayerBounds.Full(space.LayerCount), band, Fitness, mustKeep);
                var seeds = pairs.OrderBy(config.ObjectiveOf).Take(10).Select(p => p.ToArchitecture(paths.Pairs)).ToList();
                var evolution = new EvolutionarySearch(space).Run(config.EvolutionFor(r), shrink.Bounds, band, Fitness, seeds);
                plan = new RoundPlan(evolution.Top.Where(t => !measuredById.ContainsKey(t.Architecture.Id)).Take(config.Active.TopK)
                        .Select(t => t.Architecture.ToJson().ToJsonString()).ToList(),
                    predictor.PredictMeasure([evolution.Top[0].Architecture])[0], evolution.Top[0].Architecture.Id,
                    shrink.Rounds.Select(s => s.OutputLog10Volume).Prepend(shrink.Rounds.FirstOrDefault()?.InputLog10Volume ?? 0).ToList(),
                    LayerBoundsJson.ToJson(shrink.Bounds).ToJsonString());
                // The shrunken space on its own, as `nasprune sample --bounds` reads it (more pairs inside it).
                LayerBoundsJson.Save(paths.SearchBounds(r), shrink.Bounds);
                AtomicFile.WriteAllText(paths.SearchPlan(r), JsonSerializer.Serialize(plan, Json) + "\n");
            }
            var candidates = plan.Candidates.Select(c => Architecture.FromJson(c, paths.SearchPlan(r))).ToList();
            var predicted = predictor.PredictMeasure(candidates);
            var writer = new ShardWriter(paths.ActivePairs);
            reporter.Track($"active round {r}: {candidates.Count} candidates", candidates.Count, progress =>
            {
                for (int i = 0; i < candidates.Count; i++)
                {
                    if (!measuredById.ContainsKey(candidates[i].Id))
                    {
                        var started = System.Diagnostics.Stopwatch.StartNew();
                        var row = evaluator.Evaluate(candidates[i], out _);
                        row.Source = PairSource.Active(r);
                        row.ShardIndex = 0;
                        row.ShardCount = 1;
                        row.SampleSeed = config.Seed;
                        row.SampleIndex = i;
                        row.WallSeconds = started.Elapsed.TotalSeconds;
                        writer.Add(row);
                        measuredById[row.ArchId] = row;
                    }
                    progress.Report(i + 1);
                }
                return 0;
            });
            var measured = candidates.Select(c => config.ObjectiveOf(measuredById[c.Id])).ToList();
            var bestAfter = measuredById.Values.MinBy(config.ObjectiveOf)!;
            bool improved = config.ObjectiveOf(bestAfter) < config.ObjectiveOf(bestBefore) - 1e-12;
            double tau = candidates.Count >= 2 ? PredictorMetrics.KendallTau(measured, predicted) : double.NaN;
            var record = new ActiveRound(r, pairs.Count, plan.Log10Volumes, plan.PredictedBest, plan.PredictedBestId, candidates.Select(c => c.Id).ToList(),
                predicted, measured, tau, bestAfter.WikiText2Nll, bestAfter.ArchId, improved, JsonNode.Parse(plan.Bounds)!,
                config.ObjectiveName == PredictorTarget.Kl ? bestAfter.WikiText2Kl : null);
            AtomicFile.WriteAllText(recordPath, JsonSerializer.Serialize(record, Json) + "\n");
            reporter.Log($"round {r}: predicted best {plan.PredictedBest:F4}, real best {config.ObjectiveName} {config.ObjectiveOf(bestAfter):F4} ({(improved ? "improved" : "no improvement")}), " +
                $"τ on the {candidates.Count} new points {tau:F3}");
            rounds.Add(record);
            stale = improved ? 0 : stale + 1;
        }
        return rounds;
    }

    sealed record RoundPlan(List<string> Candidates, double PredictedBest, string PredictedBestId, List<double> Log10Volumes, string Bounds);

    RoundPlan? LoadPlan(int r) =>
        File.Exists(paths.SearchPlan(r)) ? JsonFile.Load<RoundPlan>(paths.SearchPlan(r), "search round plan", Json) : null;
}
