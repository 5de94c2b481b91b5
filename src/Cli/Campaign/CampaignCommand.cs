using System.CommandLine;
using System.Text.Json;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Pairs;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Recovery;
using NasPrune.Evaluator.Runtime;
using NasPrune.Predictor;
using NasPrune.Search;

namespace NasPrune.Cli.Campaign;

/// <summary>
/// <c>nasprune campaign --config FILE</c>: the whole pipeline on one model and budget — importance → initial pairs →
/// predictor → (shrink + evolve → verify top-k) rounds → random-search baseline with as many real evaluations →
/// final verification on test splits (dense, uniform, random, NasPrune; each recovery) → export → results.json and
/// report.md. Every stage writes its outputs atomically and is skipped when they exist, so rerunning the same
/// command after a crash continues where it stopped.
/// </summary>
public static class CampaignCommand
{
    public sealed record CampaignRecord(string NasPruneVersion, string Model, string ModelHash, JsonElement Config);

    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "campaign configuration (YAML or JSON; see experiments/default/campaign.yaml)", Required = true };
        var output = new Option<string?>("--out") { Description = "run directory (default: runs/<name>)" };
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("campaign", "Run the whole search pipeline on one model and budget (resumable; writes results.json and report.md)")
        {
            config, output, device, json, data,
        };
        command.SetAction(parse =>
        {
            string configPath = parse.GetValue(config)!;
            var c = CampaignConfig.Load(configPath);
            var paths = new CampaignPaths(Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", c.Name)));
            // One campaign per run directory: two would race on the same stage files (see DirectoryLock).
            using var runLock = DirectoryLock.Acquire(paths.Root, "campaign run directory");
            var results = Run(c, paths, DataDirectory.Resolve(parse.GetValue(data)), DeviceChoice.Resolve(parse.GetValue(device)));
            if (parse.GetValue(json)) Output.WriteJson(results);
            else
            {
                foreach (var r in results.Rows)
                    Console.WriteLine($"{r.Method,-9} {r.Recovery,-5} params {r.Params,12:N0}  WikiText-2 {r.Wikitext2Ppl,9:F2}  PTB {r.PtbPpl,9:F2}  " +
                                      $"BLiMP {r.BlimpAcc?.ToString("P1") ?? "–",7}  MMLU {r.MmluAcc?.ToString("P1") ?? "–",7}  zero-shot {r.ZeroshotAvg?.ToString("P1") ?? "–",7}  latency {r.LatencyMs:F1} ms  real evals {r.RealEvaluations}");
                Console.WriteLine($"report: {paths.Report}");
            }
            return 0;
        });
        return command;
    }

    public static CampaignResults Run(CampaignConfig c, CampaignPaths paths, string dataDir, TorchSharp.torch.Device device)
    {
        string modelDir = Path.GetFullPath(c.Model ?? DataDirectory.DefaultModel(dataDir));
        var calibration = new CalibrationSettings(Seed: c.Pairs.CalibrationSeed);
        Directory.CreateDirectory(paths.Root);
        Output.Log($"campaign {c.Name}: {paths.Root}");

        // Stage 1: importance (cached next to the model) and the reordered model every later stage uses.
        using var prepared = PreparedModel.Prepare(modelDir, dataDir, c.Criterion, calibration, device, log: Output.Log);
        RecordCampaign(c, paths, prepared);
        var profile = prepared.Scores.ToProfile(prepared.Model.Config.GroupSize);
        if (!File.Exists(paths.Importance(c.Criterion))) profile.Save(paths.Importance(c.Criterion));
        if (!File.Exists(Path.Combine(paths.Pairs, ImportanceProfile.FileName))) profile.Save(Path.Combine(paths.Pairs, ImportanceProfile.FileName));

        // Stage 2: initial pairs — the first part of one seeded random stream; the random-search baseline continues it.
        var space = prepared.Space;
        var (min, max) = c.Band;
        var band = new BudgetBand(min, max);
        int maxActive = c.Active.Rounds * c.Active.TopK;
        var stream = new ArchitectureSampler(space).Sample(new SamplerOptions(band, c.Pairs.Count + maxActive, c.Seed));
        if (stream.Count < c.Pairs.Count + maxActive)
            throw new UserError($"the band {min:P1}–{max:P1} holds only {stream.Count} distinct architectures; widen band_width or lower pairs.count");
        // Objective kl measures both: the search minimises KL, the report still shows each pick's validation NLL.
        using var evaluator = new PairEvaluator(prepared, new PairEvaluationSettings([PerplexityTask.WikiText2.Name], c.Pairs.Windows, c.Pairs.WindowSeed,
            Measure: c.ObjectiveName == PredictorTarget.Kl ? PairMeasure.Both : PairMeasure.Nll));
        var initial = stream.Take(c.Pairs.Count).ToList();
        var pairsRun = Output.WithProgress($"initial pairs", initial.Count,
            progress => new PairRunner(evaluator, paths.Pairs, ShardSpec.Single).Run(initial, c.Seed, progress: progress));
        Output.Log($"initial pairs: {pairsRun.Evaluated} evaluated, {pairsRun.AlreadyPresent} already present ({pairsRun.PairsPerHour:F0} pairs/hour)");

        // Stage 3: the first predictor (kept for the record; the active loop retrains every round).
        var baseConfig = prepared.Model.Config;
        if (!File.Exists(paths.PredictorModel))
        {
            var first = AccuracyPredictor.Train(PairStore.ReadAll(paths.Pairs), baseConfig, profile, ActiveSearch.PredictorOptions(c));
            first.Save(paths.PredictorModel);
        }

        // Stage 4: predictor-guided search with real verification of the top candidates.
        var rounds = new ActiveSearch(paths, c, evaluator, baseConfig, profile, Output.Log).Run();
        int activeEvaluations = rounds.Sum(r => r.EvaluatedIds.Count);
        var searchPairs = PairStore.ReadAll(paths.Pairs);
        int nasPruneEvaluations = searchPairs.Count;

        // Stage 5: random search with the same number of real evaluations (the stream's continuation).
        var extra = stream.Skip(c.Pairs.Count).Take(nasPruneEvaluations - c.Pairs.Count).ToList();
        if (extra.Count > 0)
            Output.WithProgress("random-search baseline", extra.Count,
                progress => new PairRunner(evaluator, paths.RandomPairs, ShardSpec.Single).Run(extra, c.Seed, "random", progress));
        var randomPairs = searchPairs.Where(p => p.Source == "sample")
            .Concat(Directory.Exists(paths.RandomPairs) && extra.Count > 0 ? PairStore.ReadAll(paths.RandomPairs) : []).ToList();

        // Stage 6: final verification on test splits, export, results.json.
        var uniform = space.Uniform(c.Remove);
        var methods = new List<(string Method, Architecture? Arch, int Evaluations, double? Nll)>
        {
            ("dense", null, 0, null),
            ("uniform", uniform, 0, searchPairs.FirstOrDefault(p => p.ArchId == uniform.Id)?.WikiText2Nll),
        };
        var randomBest = randomPairs.MinBy(c.ObjectiveOf)!;
        methods.Add(("random", randomBest.ToArchitecture(paths.RandomPairs), randomPairs.Count, randomBest.WikiText2Nll));
        var ours = searchPairs.MinBy(c.ObjectiveOf)!;
        methods.Add(("nasprune", ours.ToArchitecture(paths.Pairs), nasPruneEvaluations, ours.WikiText2Nll));
        Output.Log($"final architectures: uniform {uniform.Id}, random best {randomBest.ArchId} (of {randomPairs.Count}), NasPrune best {ours.ArchId} (of {nasPruneEvaluations}, {activeEvaluations} from the active loop)");

        var lora = new LoraOptions { Seed = c.Seed };
        var verification = new FinalVerification(prepared, c.Final, dataDir, Output.Log);
        var rows = new List<ResultRow>();
        foreach (var (method, arch, evaluations, nll) in methods)
            foreach (var recovery in arch is null ? ["none"] : c.Final.Recover)
            {
                string rowPath = paths.FinalRow(method, recovery);
                if (!File.Exists(rowPath))
                {
                    var plan = RecoveryPlan.Parse(recovery, new ReconstructionOptions(), lora, Path.Combine(dataDir, "train-corpus"));
                    string? export = c.Final.Export && arch is not null ? paths.FinalCheckpoint(method, recovery) : null;
                    if (export is not null && Directory.Exists(export)) Directory.Delete(export, recursive: true); // an unfinished export of a crashed run
                    CampaignResults.SaveRow(rowPath, verification.Measure(method, arch, plan, evaluations, nll, export));
                }
                rows.Add(CampaignResults.LoadRow(rowPath));
            }
        var results = new CampaignResults(modelDir, prepared.ModelHash, c.Remove, c.Criterion, "test", baseConfig.MaxPositionEmbeddings,
            c.Final.MaxWindows, c.Final.BlimpLimit, c.Final.MmluLimit, c.Final.ZeroshotLimit, rows, c.ObjectiveName,
            PerplexityTask.All.ToDictionary(t => t.Name, t => t.Description));
        results.Save(paths.Results);

        // Stage 7: the report.
        CampaignReport.Write(paths);
        return results;
    }

    /// <summary>campaign.json: the resolved configuration; a rerun with another configuration must not mix into this run.</summary>
    static void RecordCampaign(CampaignConfig c, CampaignPaths paths, PreparedModel prepared)
    {
        var configJson = JsonSerializer.SerializeToElement(c, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        var record = new CampaignRecord(PairEvaluator.Version, prepared.ModelDir, prepared.ModelHash, configJson);
        string text = Output.ToJson(record);
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
