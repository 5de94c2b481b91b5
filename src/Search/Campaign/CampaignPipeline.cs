using System.Text.Json;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Pairs;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Recovery;
using NasPrune.Predictor;

namespace NasPrune.Search.Campaign;

/// <summary>
/// The whole pipeline on one model and budget, in stage order: importance → initial pairs → predictor →
/// (shrink + evolve → verify top-k) rounds → random-search baseline with as many real evaluations → final
/// verification on test splits (dense, uniform, random, NasPrune; each recovery) → export → results.json and
/// report.md. Every stage writes its outputs atomically and is skipped when they exist, so rerunning after a crash
/// continues where it stopped.
/// </summary>
public static class CampaignPipeline
{
    public sealed record CampaignRecord(string NasPruneVersion, string Model, string ModelHash, JsonElement Config);

    public static CampaignResults Run(CampaignConfig c, CampaignPaths paths, string dataDir, TorchSharp.torch.Device device, IProgressReporter reporter)
    {
        c.Validate("campaign config");
        string modelDir = Path.GetFullPath(c.Model ?? DataDirectory.DefaultModel(dataDir));
        var calibration = new CalibrationSettings(SeqLen: c.SeqLen ?? 0, Seed: c.Pairs.CalibrationSeed);
        if (c.Pairs.CalibrationSequences is int sequences) calibration = calibration with { Sequences = sequences };
        Directory.CreateDirectory(paths.Root);
        reporter.Log($"campaign {c.Name}: {paths.Root}");

        var timings = new StageTimings(paths.Timings);
        // Stage 1: importance (cached next to the model) and the reordered model every later stage uses.
        using var prepared = timings.Time("prepare", () => PreparedModel.Prepare(modelDir, dataDir, c.Criterion, calibration, device, log: reporter.Log));
        RecordCampaign(c, paths, prepared);
        var profile = prepared.Scores.ToProfile(prepared.Model.Config.GroupSize);
        if (!File.Exists(paths.Importance(c.Criterion))) profile.Save(paths.Importance(c.Criterion));
        if (!File.Exists(Path.Combine(paths.Pairs, ImportanceProfile.FileName))) profile.Save(Path.Combine(paths.Pairs, ImportanceProfile.FileName));

        // Stage 2: initial pairs — the first part of one seeded random stream; the random-search baseline continues it.
        var space = prepared.Space;
        var band = c.Band;
        var stream = new ArchitectureSampler(space).Sample(new SamplerOptions(band, c.Pairs.Count + c.MaxRandomContinuation, c.Seed));
        if (stream.Count < c.Pairs.Count + c.MaxRandomContinuation)
            throw new UserError($"the band {band.MinKept:P1}–{band.MaxKept:P1} holds only {stream.Count} distinct architectures; widen band_width or lower pairs.count");
        // Objective kl measures both: the search minimises KL, the report still shows each pick's validation NLL.
        string measure = c.ObjectiveTarget == PredictorTarget.Kl ? PairMeasure.Both : PairMeasure.Nll;
        using var evaluator = new PairEvaluator(prepared, new PairEvaluationSettings([PerplexityTask.WikiText2.Name], c.Pairs.Windows, c.Pairs.WindowSeed, Measure: measure));
        // Screens: the first screen_windows of the same seeded window order, so a screen estimates the same quantity.
        using var screener = c.Active.Screens
            ? new PairEvaluator(prepared, new PairEvaluationSettings([PerplexityTask.WikiText2.Name], c.Active.ScreenWindows, c.Pairs.WindowSeed, Measure: measure))
            : null;
        // Both pairs directories (initial + active, and the random baseline's) carry the protocol they were measured
        // under, so `nasprune sample --resume` into them with other settings is refused.
        var protocol = PairProtocols.Describe(evaluator, calibration, band.MinKept, band.MaxKept, "params", null, c.Seed);
        var initialArchs = stream.Take(c.Pairs.Count).ToList();
        var pairsRun = timings.Time("initial_pairs", () => reporter.Track($"initial pairs", initialArchs.Count,
            progress => new PairRunner(evaluator, paths.Pairs, protocol, ShardSpec.Single).Run(initialArchs, c.Seed, progress: progress)));
        reporter.Log($"initial pairs: {pairsRun.Evaluated} evaluated, {pairsRun.AlreadyPresent} already present ({pairsRun.PairsPerHour:F0} pairs/hour)");
        var initial = PairStore.ReadAll(paths.Pairs).Where(p => p.Source == PairSource.Sample).OrderBy(p => p.SampleIndex).ToList();

        // Stage 3: the first predictor (kept for the record; the active loop retrains every round).
        var baseConfig = prepared.Model.Config;
        if (!File.Exists(paths.PredictorModel))
            timings.Time("first_predictor", () => AccuracyPredictor.Train(initial, baseConfig, profile, c.PredictorFor(0)).Save(paths.PredictorModel));

        // Stage 4: predictor-guided search with real verification (fresh, screened and confirmed candidates).
        var active = new MemoizedEvaluations(evaluator, screener, paths.ActivePairs, paths.Screens, c.Seed);
        var rounds = timings.Time("active_search", () => new ActiveSearch(paths, c, active, space, baseConfig, profile, reporter).Run(initial));
        var nasPruneTrace = SearchTraces.NasPrune(initial, rounds, c);
        long budget = nasPruneTrace.Sum(e => (long)e.Windows);
        var searchPairs = initial.Concat(active.AllMeasured).ToList();

        // Stage 5: the peers, each with NasPrune's real window-evaluations. Random search: the stream's continuation,
        // as many full evaluations as the budget pays for.
        int randomCount = (int)(budget / c.Pairs.Windows);
        var extra = stream.Skip(c.Pairs.Count).Take(Math.Max(0, randomCount - c.Pairs.Count)).ToList();
        if (extra.Count > 0)
            timings.Time("random_search", () => reporter.Track("random-search baseline", extra.Count,
                progress => new PairRunner(evaluator, paths.RandomPairs, protocol, ShardSpec.Single).Run(extra, c.Seed, PairSource.Random, progress)));
        var extraIds = extra.Select(a => a.Id).ToHashSet();
        var randomPairs = initial.Concat(Directory.Exists(paths.RandomPairs) ? PairStore.ReadAll(paths.RandomPairs).Where(p => extraIds.Contains(p.ArchId)).OrderBy(p => p.SampleIndex) : []).ToList();
        // Evolution on real evaluations only (EvoPress-style), from the uniform architecture in the band.
        var evolution = timings.Time("evolution_peer", () => EvolutionPeerStage.Run(c, paths, evaluator, space, band, stream[0], budget, reporter));
        // Adaptive allocation from the importance scores: no search, no real evaluation.
        var adaptive = AdaptiveAllocation.Allocate(space, profile, band, c.Adaptive);

        var anytime = new Dictionary<CampaignMethod, IReadOnlyList<RealEvaluation>>
        {
            [CampaignMethod.Random] = SearchTraces.OfRows(randomPairs, c),
            [CampaignMethod.Evolution] = evolution.Trace,
            [CampaignMethod.NasPrune] = nasPruneTrace,
        };
        SearchTraces.Save(paths.Anytime, anytime, budget);

        // Stage 6: final verification on test splits, export, results.json.
        var uniform = space.Uniform(c.Remove);
        var evolutionBest = evolution.BestRow;
        var methods = new List<(CampaignMethod Method, Architecture? Arch, long Windows, double? Nll)>
        {
            (CampaignMethod.Dense, null, 0, null),
            (CampaignMethod.Uniform, uniform, 0, searchPairs.FirstOrDefault(p => p.ArchId == uniform.Id)?.WikiText2Nll),
            (CampaignMethod.Adaptive, adaptive, 0, searchPairs.FirstOrDefault(p => p.ArchId == adaptive.Id)?.WikiText2Nll),
        };
        var randomBest = randomPairs.MinBy(c.ObjectiveOf)!;
        methods.Add((CampaignMethod.Random, randomBest.ToArchitecture(paths.RandomPairs), randomPairs.Count * (long)c.Pairs.Windows, randomBest.WikiText2Nll));
        methods.Add((CampaignMethod.Evolution, evolution.Result.Best, evolution.Result.SpentWindows, evolutionBest.WikiText2Nll));
        var ours = searchPairs.MinBy(c.ObjectiveOf)!;
        methods.Add((CampaignMethod.NasPrune, ours.ToArchitecture(paths.Pairs), budget, ours.WikiText2Nll));
        reporter.Log($"final architectures: uniform {uniform.Id}, adaptive {adaptive.Id}, random best {randomBest.ArchId} (of {randomPairs.Count}), " +
            $"evolution best {evolution.Result.Best.Id} ({evolution.Result.SpentWindows} window-evaluations), NasPrune best {ours.ArchId} (of {searchPairs.Count}, {budget} window-evaluations)");

        var lora = new LoraOptions { Seed = c.Seed };
        var verification = new FinalVerification(prepared, c.Final, dataDir, reporter);
        var rows = new List<ResultRow>();
        foreach (var (method, arch, windows, nll) in methods)
            foreach (var recovery in arch is null ? ["none"] : c.Final.Recover)
            {
                string rowPath = paths.FinalRow(method, recovery);
                if (!File.Exists(rowPath))
                {
                    var plan = RecoveryPlan.Parse(recovery, new ReconstructionOptions(), lora, Path.Combine(dataDir, "train-corpus"));
                    string? export = c.Final.Export && arch is not null ? paths.FinalCheckpoint(method, recovery) : null;
                    CampaignResults.SaveRow(rowPath, timings.Time("final_verification", () => verification.Measure(method, arch, plan, (int)(windows / c.Pairs.Windows), nll, export, windows,
                        paths.FinalSamples(method, recovery))));
                }
                rows.Add(CampaignResults.LoadRow(rowPath));
            }
        if (!File.Exists(paths.Continuations))
            JsonFile.Save(paths.Continuations, timings.Time("continuations", () =>
                GreedyContinuations.Make(prepared, methods.Select(m => (m.Method, m.Arch)).ToList(), reporter)));
        var results = new CampaignResults(modelDir, prepared.ModelHash, c.Remove, c.Criterion, "test", prepared.SeqLen,
            c.Final.MaxWindows, c.Final.BlimpLimit, c.Final.MmluLimit, c.Final.ZeroshotLimit, rows, c.ObjectiveName,
            PerplexityTask.All.ToDictionary(t => t.Name, t => t.Description)).WithConfidence(paths, c.Seed);
        results.Save(paths.Results);

        // Stage 7: the report.
        timings.Time("report", () => CampaignReport.Write(paths));
        return results;
    }

    /// <summary>campaign.json: the resolved configuration; a rerun with another configuration must not mix into this run.</summary>
    static void RecordCampaign(CampaignConfig c, CampaignPaths paths, PreparedModel prepared)
    {
        var record = new CampaignRecord(ProductVersion.Current, prepared.ModelDir, prepared.ModelHash, c.ToRecord());
        string text = ReportJson.Serialize(record);
        if (File.Exists(paths.CampaignJson))
        {
            var existing = JsonDocument.Parse(File.ReadAllText(paths.CampaignJson)).RootElement;
            if (existing.GetProperty("model_hash").GetString() != prepared.ModelHash
                || existing.GetProperty("config").GetRawText() != JsonDocument.Parse(text).RootElement.GetProperty("config").GetRawText())
                throw new UserError($"{paths.CampaignJson}: this run directory holds a campaign with another configuration or model; use another --out or name");
            return;
        }
        AtomicFile.WriteAllText(paths.CampaignJson, text + "\n");
    }
}
