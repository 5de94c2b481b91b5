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
        string modelDir = Path.GetFullPath(c.Model ?? DataDirectory.DefaultModel(dataDir));
        var calibration = new CalibrationSettings(Seed: c.Pairs.CalibrationSeed);
        Directory.CreateDirectory(paths.Root);
        reporter.Log($"campaign {c.Name}: {paths.Root}");

        // Stage 1: importance (cached next to the model) and the reordered model every later stage uses.
        using var prepared = PreparedModel.Prepare(modelDir, dataDir, c.Criterion, calibration, device, log: reporter.Log);
        RecordCampaign(c, paths, prepared);
        var profile = prepared.Scores.ToProfile(prepared.Model.Config.GroupSize);
        if (!File.Exists(paths.Importance(c.Criterion))) profile.Save(paths.Importance(c.Criterion));
        if (!File.Exists(Path.Combine(paths.Pairs, ImportanceProfile.FileName))) profile.Save(Path.Combine(paths.Pairs, ImportanceProfile.FileName));

        // Stage 2: initial pairs — the first part of one seeded random stream; the random-search baseline continues it.
        var space = prepared.Space;
        var band = c.Band;
        int maxActive = c.Active.Rounds * c.Active.TopK;
        var stream = new ArchitectureSampler(space).Sample(new SamplerOptions(band, c.Pairs.Count + maxActive, c.Seed));
        if (stream.Count < c.Pairs.Count + maxActive)
            throw new UserError($"the band {band.MinKept:P1}–{band.MaxKept:P1} holds only {stream.Count} distinct architectures; widen band_width or lower pairs.count");
        // Objective kl measures both: the search minimises KL, the report still shows each pick's validation NLL.
        using var evaluator = new PairEvaluator(prepared, new PairEvaluationSettings([PerplexityTask.WikiText2.Name], c.Pairs.Windows, c.Pairs.WindowSeed,
            Measure: c.ObjectiveName == PredictorTarget.Kl ? PairMeasure.Both : PairMeasure.Nll));
        // Both pairs directories (initial + active, and the random baseline's) carry the protocol they were measured
        // under, so `nasprune sample --resume` into them with other settings is refused.
        var protocol = PairProtocols.Describe(evaluator, calibration, band.MinKept, band.MaxKept, "params", null, c.Seed);
        var initial = stream.Take(c.Pairs.Count).ToList();
        var pairsRun = reporter.Track($"initial pairs", initial.Count,
            progress => new PairRunner(evaluator, paths.Pairs, protocol, ShardSpec.Single).Run(initial, c.Seed, progress: progress));
        reporter.Log($"initial pairs: {pairsRun.Evaluated} evaluated, {pairsRun.AlreadyPresent} already present ({pairsRun.PairsPerHour:F0} pairs/hour)");

        // Stage 3: the first predictor (kept for the record; the active loop retrains every round).
        var baseConfig = prepared.Model.Config;
        if (!File.Exists(paths.PredictorModel))
        {
            var first = AccuracyPredictor.Train(PairStore.ReadAll(paths.Pairs), baseConfig, profile, c.PredictorFor(0));
            first.Save(paths.PredictorModel);
        }

        // Stage 4: predictor-guided search with real verification of the top candidates.
        var rounds = new ActiveSearch(paths, c, evaluator, baseConfig, profile, reporter).Run();
        int activeEvaluations = rounds.Sum(r => r.EvaluatedIds.Count);
        var searchPairs = PairStore.ReadAll(paths.Pairs);
        int nasPruneEvaluations = searchPairs.Count;

        // Stage 5: random search with the same number of real evaluations (the stream's continuation).
        var extra = stream.Skip(c.Pairs.Count).Take(nasPruneEvaluations - c.Pairs.Count).ToList();
        if (extra.Count > 0)
            reporter.Track("random-search baseline", extra.Count,
                progress => new PairRunner(evaluator, paths.RandomPairs, protocol, ShardSpec.Single).Run(extra, c.Seed, PairSource.Random, progress));
        var randomPairs = searchPairs.Where(p => p.Source == PairSource.Sample)
            .Concat(Directory.Exists(paths.RandomPairs) && extra.Count > 0 ? PairStore.ReadAll(paths.RandomPairs) : []).ToList();

        // Stage 6: final verification on test splits, export, results.json.
        var uniform = space.Uniform(c.Remove);
        var methods = new List<(CampaignMethod Method, Architecture? Arch, int Evaluations, double? Nll)>
        {
            (CampaignMethod.Dense, null, 0, null),
            (CampaignMethod.Uniform, uniform, 0, searchPairs.FirstOrDefault(p => p.ArchId == uniform.Id)?.WikiText2Nll),
        };
        var randomBest = randomPairs.MinBy(c.ObjectiveOf)!;
        methods.Add((CampaignMethod.Random, randomBest.ToArchitecture(paths.RandomPairs), randomPairs.Count, randomBest.WikiText2Nll));
        var ours = searchPairs.MinBy(c.ObjectiveOf)!;
        methods.Add((CampaignMethod.NasPrune, ours.ToArchitecture(paths.Pairs), nasPruneEvaluations, ours.WikiText2Nll));
        reporter.Log($"final architectures: uniform {uniform.Id}, random best {randomBest.ArchId} (of {randomPairs.Count}), NasPrune best {ours.ArchId} (of {nasPruneEvaluations}, {activeEvaluations} from the active loop)");

        var lora = new LoraOptions { Seed = c.Seed };
        var verification = new FinalVerification(prepared, c.Final, dataDir, reporter);
        var rows = new List<ResultRow>();
        foreach (var (method, arch, evaluations, nll) in methods)
            foreach (var recovery in arch is null ? ["none"] : c.Final.Recover)
            {
                string rowPath = paths.FinalRow(method, recovery);
                if (!File.Exists(rowPath))
                {
                    var plan = RecoveryPlan.Parse(recovery, new ReconstructionOptions(), lora, Path.Combine(dataDir, "train-corpus"));
                    string? export = c.Final.Export && arch is not null ? paths.FinalCheckpoint(method, recovery) : null;
                    CampaignResults.SaveRow(rowPath, verification.Measure(method, arch, plan, evaluations, nll, export, paths.FinalSamples(method, recovery)));
                }
                rows.Add(CampaignResults.LoadRow(rowPath));
            }
        var results = new CampaignResults(modelDir, prepared.ModelHash, c.Remove, c.Criterion, "test", baseConfig.MaxPositionEmbeddings,
            c.Final.MaxWindows, c.Final.BlimpLimit, c.Final.MmluLimit, c.Final.ZeroshotLimit, rows, c.ObjectiveName,
            PerplexityTask.All.ToDictionary(t => t.Name, t => t.Description)).WithConfidence(paths, c.Seed);
        results.Save(paths.Results);

        // Stage 7: the report.
        CampaignReport.Write(paths);
        return results;
    }

    /// <summary>campaign.json: the resolved configuration; a rerun with another configuration must not mix into this run.</summary>
    static void RecordCampaign(CampaignConfig c, CampaignPaths paths, PreparedModel prepared)
    {
        var configJson = JsonSerializer.SerializeToElement(c, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        var record = new CampaignRecord(ProductVersion.Current, prepared.ModelDir, prepared.ModelHash, configJson);
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
