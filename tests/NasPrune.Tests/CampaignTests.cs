using NasPrune.Search.Campaign;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;
using NasPrune.Search;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>The campaign pipeline end to end on a tiny model: stages, resume after a crash between stages, report.</summary>
public sealed class CampaignTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-campaign-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    CampaignConfig TinyConfig() => new()
    {
        Name = "tiny",
        Model = tiny.Dir,
        Remove = 0.3,
        BandWidth = 0.1,
        Pairs = new() { Count = 12, Windows = 2 },
        Predictor = new() { NumberOfTrees = 20, NumberOfLeaves = 4, LearningRate = 0.05 },
        Shrink = new() { Rounds = 1, SampleSize = 50 },
        Evolution = new() { Population = 10, Generations = 3, Elites = 1 },
        Active = new() { Rounds = 2, TopK = 2, Patience = 2, Fresh = 1, Screen = 3, ScreenWindows = 1, Ensemble = 3 },
        PeerEvolution = new() { Offspring = 3, Survivors = 1, ScreenWindows = 1 },
        Final = new() { MaxWindows = 2, BlimpLimit = 2, MmluLimit = 0, ZeroshotLimit = 0, Recover = ["none"], Export = false },
    };

    static Dictionary<string, (DateTime, byte[])> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => (File.GetLastWriteTimeUtc(f), File.ReadAllBytes(f)));

    [Fact]
    public void ACampaignResumesAfterACrashWithoutRedoingFinishedStagesAndReportsFromItsDirectory()
    {
        var paths = new CampaignPaths(root);
        var first = CampaignPipeline.Run(TinyConfig(), paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);

        Assert.Equal([CampaignMethod.Dense, CampaignMethod.Uniform, CampaignMethod.Adaptive, CampaignMethod.Random, CampaignMethod.Evolution, CampaignMethod.NasPrune],
            first.Rows.Select(r => r.Method));
        Assert.All(first.Rows, r => Assert.InRange(r.BlimpAcc!.Value, 0, 1)); // 2 pairs × 67 paradigms
        Assert.Equal(2, first.BlimpLimit);
        var pairs = PairStore.ReadAll(paths.Pairs);
        var nasprune = first.Rows.Single(r => r.Method == CampaignMethod.NasPrune);
        var random = first.Rows.Single(r => r.Method == CampaignMethod.Random);
        // NasPrune's budget is every window it measured: full pairs and screens; the peers get the same budget.
        var screens = PairStore.ReadAll(paths.Screens);
        Assert.NotEmpty(screens);
        Assert.All(screens, s => Assert.Equal(1, s.EvalWindows));
        Assert.Equal(pairs.Count * 2L + screens.Count, nasprune.WindowEvaluations);
        Assert.Equal(nasprune.WindowEvaluations / 2, random.RealEvaluations);
        var evolution = first.Rows.Single(r => r.Method == CampaignMethod.Evolution);
        Assert.InRange(evolution.WindowEvaluations, 2, nasprune.WindowEvaluations);
        Assert.Equal(0, first.Rows.Single(r => r.Method == CampaignMethod.Adaptive).WindowEvaluations);
        // The anytime record charges each search its windows, and its curves never rise.
        var anytime = AnytimeRecord.Load(paths.Anytime);
        Assert.Equal([CampaignMethod.Random, CampaignMethod.Evolution, CampaignMethod.NasPrune], anytime.Methods.Select(m => m.Method));
        Assert.Equal(nasprune.WindowEvaluations, anytime.Methods.Single(m => m.Method == CampaignMethod.NasPrune).SpentWindows);
        Assert.All(anytime.Methods, m => Assert.True(m.Curve.Zip(m.Curve.Skip(1)).All(p => p.Second.Best <= p.First.Best && p.Second.Windows > p.First.Windows)));
        Assert.Equal(nasprune.ValidationNll!.Value, anytime.Methods.Single(m => m.Method == CampaignMethod.NasPrune).Best, 12);
        // The pick's validation NLL is a real measurement: re-measured here from scratch on the campaign's windows, and
        // no stored pair (initial or active) measured lower.
        using (var prepared = Evaluator.Pruning.PreparedModel.Prepare(tiny.Dir, DataDirectory.Resolve(), "activation", new CalibrationSettings(Seed: 1234), CPU))
        using (var evaluator = new Evaluator.Pairs.PairEvaluator(prepared, new Evaluator.Pairs.PairEvaluationSettings(["wikitext2"], Windows: 2, WindowSeed: 1234)))
        {
            var pick = pairs.Single(p => p.ArchId == nasprune.ArchId).ToArchitecture("pairs");
            Assert.Equal(evaluator.Evaluate(pick, out _).WikiText2Nll, nasprune.ValidationNll!.Value, 12);
        }
        Assert.All(pairs, p => Assert.True(p.WikiText2Nll >= nasprune.ValidationNll, $"{p.ArchId} {p.WikiText2Nll} < the pick's {nasprune.ValidationNll}"));
        Assert.All(pairs, p => Assert.InRange(p.ParamRatio, 0.6 - 1e-9, 0.7 + 1e-9));
        Assert.True(File.Exists(paths.SearchRound(1)));
        // The shrunken space is written as the sampler reads it, so more pairs can be drawn inside it.
        Assert.Equal(3, LayerBoundsJson.Load(paths.SearchBounds(1), 3).HeadMin.Length);

        // A crash after the search: the final stage's outputs are gone, everything before must be reused untouched.
        var before = Snapshot(paths.Pairs).Concat(Snapshot(paths.SearchDir)).Concat(Snapshot(paths.RandomPairs)).Concat(Snapshot(Path.Combine(root, "evolution"))).ToDictionary();
        File.Delete(paths.FinalRow(CampaignMethod.NasPrune, "none"));
        File.Delete(paths.Results);
        File.Delete(paths.Report);
        var second = CampaignPipeline.Run(TinyConfig(), paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);
        var after = Snapshot(paths.Pairs).Concat(Snapshot(paths.SearchDir)).Concat(Snapshot(paths.RandomPairs)).Concat(Snapshot(Path.Combine(root, "evolution"))).ToDictionary();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (file, (time, bytes)) in before)
        {
            Assert.Equal(time, after[file].Item1);
            Assert.Equal(bytes, after[file].Item2);
        }
        Assert.Equal(first.Rows.Select(r => (r.Method, r.ArchId, r.Wikitext2Ppl, r.PtbPpl)), second.Rows.Select(r => (r.Method, r.ArchId, r.Wikitext2Ppl, r.PtbPpl)));

        // Every row's per-window and per-item values lie beside it; the resumed run reloads them (and remeasures the
        // deleted row's) into the same paired bootstrap intervals, one set per pruned row.
        Assert.All(first.Rows, r => Assert.True(File.Exists(paths.FinalSamples(r.Method, r.Recovery)), r.Method.Key()));
        var confidence = second.Confidence!;
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(first.Confidence), System.Text.Json.JsonSerializer.Serialize(confidence));
        Assert.Equal([CampaignMethod.Uniform, CampaignMethod.Adaptive, CampaignMethod.Random, CampaignMethod.Evolution, CampaignMethod.NasPrune], confidence.Rows.Select(r => r.Method));
        var ours = confidence.Rows.Single(r => r.Method == CampaignMethod.NasPrune).Metrics;
        Assert.Equal(["wikitext2_ppl", "ptb_ppl", "heldout_ppl", "blimp_acc"], ours.Keys);
        var uniformRow = first.Rows.Single(r => r.Method == CampaignMethod.Uniform);
        var vsUniform = ours["wikitext2_ppl"].VsUniform!;
        Assert.Equal(CampaignMethod.Uniform, vsUniform.Against);
        Assert.Equal(nasprune.Wikitext2Ppl - uniformRow.Wikitext2Ppl, vsUniform.Estimate, 1e-4 * nasprune.Wikitext2Ppl);
        Assert.InRange(vsUniform.Estimate, vsUniform.Lo, vsUniform.Hi);
        Assert.Equal(nasprune.BlimpAcc!.Value - uniformRow.BlimpAcc!.Value, ours["blimp_acc"].VsUniform!.Estimate, 1e-12);
        Assert.Equal(first.Rows.Where(r => r.Method is CampaignMethod.Uniform or CampaignMethod.Random).MinBy(r => r.PtbPpl)!.Method, ours["ptb_ppl"].VsBestPeer!.Against);
        Assert.Contains("\"confidence\"", File.ReadAllText(paths.Results));

        // The report is made from the run directory alone.
        foreach (var png in Directory.GetFiles(root, "*.png")) File.Delete(png);
        File.Delete(paths.Report);
        // Under a decimal-comma culture: the report still reads "133.48", and the caller's culture is left alone.
        var callerCulture = System.Globalization.CultureInfo.CurrentCulture;
        System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
        try
        {
            CampaignReport.Write(paths);
            Assert.Equal("de-DE", System.Globalization.CultureInfo.CurrentCulture.Name);
        }
        finally { System.Globalization.CultureInfo.CurrentCulture = callerCulture; }
        string report = File.ReadAllText(paths.Report);
        Assert.Contains($"| {first.Rows[0].Wikitext2Ppl.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)} |", report);
        Assert.Contains("| nasprune | none |", report);
        Assert.Contains("BLiMP mean accuracy over its 67 paradigms (2 pairs each)", report);
        Assert.Contains("| uniform | none |", report);
        Assert.Contains("## 95 % paired bootstrap intervals", report);
        Assert.Contains("| nasprune | none | WikiText-2 PPL |", report);
        Assert.Contains("| evolution | none |", report);
        // Every method's model continues the fixed prompts greedily, and the report shows the text.
        var continuations = JsonFile.Load<List<Continuation>>(paths.Continuations, "continuations");
        Assert.Equal(6 * GreedyContinuations.Prompts.Length, continuations.Count);
        Assert.All(continuations, c => Assert.False(string.IsNullOrEmpty(c.Text)));
        Assert.Contains("## Greedy continuations", report);
        Assert.Contains("| adaptive | none |", report);
        Assert.Contains("Best real validation objective per window-evaluation", report);
        foreach (var png in new[] { "pareto.png", "layer-profile.png", "predictor-scatter.png", "search-progress.png", "anytime.png" })
            Assert.True(new FileInfo(Path.Combine(root, png)).Length > 1000, png);

        // Another configuration never mixes into this run directory.
        var other = TinyConfig();
        other.Seed = 99;
        var e = Assert.Throws<UserError>(() => CampaignPipeline.Run(other, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance));
        Assert.Contains("another configuration", e.Message);
    }

    /// <summary>A round record without its measured time (the one field a resumed round cannot reproduce).</summary>
    static string WithoutTimings(string roundJson)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(roundJson)!.AsObject();
        node.Remove("predictor_seconds");
        return node.ToJsonString();
    }

    [Fact]
    public void AKillInsideAnActiveRoundResumesToTheUninterruptedRound()
    {
        var paths = new CampaignPaths(root);
        var config = TinyConfig();
        config.Final = config.Final with { BlimpLimit = 0 };
        var uninterrupted = CampaignPipeline.Run(config, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);
        string round1 = File.ReadAllText(paths.SearchRound(1));
        var activeRows = PairStore.ReadAll(paths.ActivePairs);
        Assert.True(activeRows.Count(r => r.Source == PairSource.Active(1)) >= 2);

        // The state a kill leaves just after round 1 wrote its first row: its plan, one row, nothing later.
        foreach (var f in Directory.GetFiles(paths.SearchDir).Where(f => !f.EndsWith("round-1.plan.json") && !f.EndsWith("round-1.bounds.json"))) File.Delete(f);
        foreach (var d in new[] { paths.RandomPairs, paths.FinalDir, paths.ActivePairs }) Directory.Delete(d, recursive: true);
        File.Delete(paths.Results);
        new ShardWriter(paths.ActivePairs).Add(activeRows.First(r => r.Source == PairSource.Active(1)));

        var resumed = CampaignPipeline.Run(config, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);
        // Round 1 is computed from exactly the pairs its plan was made from: same training pairs, predictions, τ and outcome.
        Assert.Equal(WithoutTimings(round1), WithoutTimings(File.ReadAllText(paths.SearchRound(1))));
        Assert.Equal(activeRows.Select(r => (r.ArchId, r.WikiText2Nll)), PairStore.ReadAll(paths.ActivePairs).Select(r => (r.ArchId, r.WikiText2Nll)));
        Assert.Equal(uninterrupted.Rows.Select(r => (r.Method, r.ArchId, r.RealEvaluations, r.Wikitext2Ppl)),
            resumed.Rows.Select(r => (r.Method, r.ArchId, r.RealEvaluations, r.Wikitext2Ppl)));
    }

    [Fact]
    public void AThreeSeedCampaignRunsEndToEndResumesAfterACrashAndSummarisesMeanAndStd()
    {
        var config = TinyConfig();
        config.Final = config.Final with { BlimpLimit = 0 };
        config.Seeds = [1, 2, 3];
        var summary = MultiSeedCampaign.Run(config, root, DataDirectory.Resolve(), CPU, SilentProgress.Instance);
        Assert.Equal(["seed-1", "seed-2", "seed-3"], summary.Runs);
        var perSeed = new[] { 1, 2, 3 }.Select(s => CampaignResults.Load(new CampaignPaths(MultiSeedCampaign.SeedDirectory(root, s)).Results)).ToList();
        // Each seed is its own campaign: its seed recorded, its own random stream.
        Assert.Equal(3, perSeed.Select(r => r.Rows.Single(x => x.Method == CampaignMethod.Random).ArchId).Count());
        foreach (var method in summary.Methods)
        {
            var values = perSeed.Select(r => r.Rows.Single(x => x.Method == method.Method && x.Recovery == "none").Wikitext2Ppl).ToArray();
            Assert.Equal(3, method.Wikitext2Ppl.N);
            Assert.Equal(values.Average(), method.Wikitext2Ppl.Mean, 9);
            Assert.Equal(Math.Sqrt(values.Sum(v => (v - values.Average()) * (v - values.Average())) / 2), method.Wikitext2Ppl.Std, 9);
        }
        Assert.Equal(perSeed[0].Rows.Select(r => r.Method).Distinct(), summary.Methods.Select(m => m.Method));
        Assert.All(summary.Seeds, s => Assert.InRange(s.PredictorShare!.Value, 0, 1));
        Assert.True(File.Exists(Path.Combine(root, SeedSummary.MarkdownName)));

        // A crash in seed 2's final stage: rerunning redoes only what is missing and gives the same summary.
        var seed2 = new CampaignPaths(MultiSeedCampaign.SeedDirectory(root, 2));
        File.Delete(seed2.FinalRow(CampaignMethod.Evolution, "none"));
        File.Delete(seed2.Results);
        File.Delete(Path.Combine(root, SeedSummary.JsonName));
        var resumed = MultiSeedCampaign.Run(config, root, DataDirectory.Resolve(), CPU, SilentProgress.Instance);
        Assert.Equal(summary.Methods, resumed.Methods);
        Assert.Equal(summary.Seeds.Select(s => (s.Seed, s.MeanTauOnNew, s.NasPruneWindowsToEvolutionBest)), resumed.Seeds.Select(s => (s.Seed, s.MeanTauOnNew, s.NasPruneWindowsToEvolutionBest)));
    }

    [Fact]
    public void ConfigMistakesNameTheFileLineAndField()
    {
        Directory.CreateDirectory(root);
        string path = Path.Combine(root, "c.yaml");
        File.WriteAllText(path, "name: x\nremove: 0.2\npairs:\n  cuont: 10\n");
        var typo = Assert.Throws<UserError>(() => CampaignConfig.Load(path));
        Assert.Contains($"{path}:4", typo.Message);
        Assert.Contains("cuont", typo.Message);

        File.WriteAllText(path, "remove: 1.5\n");
        Assert.Contains("remove", Assert.Throws<UserError>(() => CampaignConfig.Load(path)).Message);

        File.WriteAllText(path, "# defaults only\n");
        var defaults = CampaignConfig.Load(path);
        Assert.Equal(0.2, defaults.Remove);
        Assert.Equal((0.78, 0.8), (Math.Round(defaults.Band.MinKept, 10), defaults.Band.MaxKept));

        // The shipped configurations load.
        string repo = Path.GetDirectoryName(DataDirectory.Resolve())!;
        foreach (var shipped in new[] { "experiments/default/campaign.yaml", "experiments/default/campaign-50.yaml", "experiments/default/campaign-overnight-gpu.yaml",
                     "experiments/search/campaign-20-kl.yaml", "experiments/search/campaign-50-kl.yaml", "experiments/scale/campaign.yaml" })
            CampaignConfig.Load(Path.Combine(repo, shipped));
    }

    [Fact]
    public void ObjectiveKlSearchesOnKlAndSaysSo()
    {
        var config = TinyConfig();
        config.Objective = PredictorTarget.Kl;
        config.Predictor = config.Predictor with { Target = PredictorTarget.Kl };
        config.Active = config.Active with { Rounds = 1 };
        var paths = new CampaignPaths(root);
        var results = CampaignPipeline.Run(config, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);

        Assert.Equal("kl", results.Objective);
        var pairs = PairStore.ReadAll(paths.Pairs);
        Assert.All(pairs, p => Assert.True(p.WikiText2Kl > 0, $"{p.ArchId}: KL {p.WikiText2Kl}"));
        var best = pairs.MinBy(p => p.WikiText2Kl)!;
        var nasprune = results.Rows.Single(r => r.Method == CampaignMethod.NasPrune);
        Assert.Equal(best.ArchId, nasprune.ArchId); // the pick minimises KL; its validation NLL is still reported
        Assert.Equal(best.WikiText2Nll, nasprune.ValidationNll);
        Assert.Contains("\"objective\": \"kl\"", File.ReadAllText(paths.Results));
        Assert.Contains("validation KL", File.ReadAllText(paths.Report));
    }

    /// <summary>
    /// A committed run resumes only if today's code records its YAML as the run recorded it (campaign.json's config):
    /// a new derived property that leaks into the record would make every earlier run directory "another configuration".
    /// </summary>
    [Theory]
    [InlineData("experiments/search/campaign-20-nll.yaml", "experiments/search/run-20-nll/seed-1", 1L)]
    [InlineData("experiments/search/campaign-50-nll.yaml", "experiments/search/run-50-nll/seed-3", 3L)]
    [InlineData("experiments/search/campaign-20-kl.yaml", "experiments/search/run-20-kl/seed-2", 2L)]
    [InlineData("experiments/default/campaign.yaml", "experiments/default/run-20-main", null)]
    public void CommittedRunsRecordTheConfigurationTodaysCodeRecords(string yaml, string run, long? seed)
    {
        string repo = Path.GetDirectoryName(DataDirectory.Resolve())!;
        var config = CampaignConfig.Load(Path.Combine(repo, yaml));
        if (seed is long s) config = config.WithSeed(s);
        var recorded = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(repo, run, "campaign.json")))!["config"];
        var today = System.Text.Json.Nodes.JsonNode.Parse(config.ToRecord().GetRawText());
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(recorded, today), $"{run}: recorded {recorded!.ToJsonString()}\ntoday    {today!.ToJsonString()}");
    }

    [Fact]
    public void ASeqLenShorterThanTheContextIsWhatEveryStageMeasuresWith()
    {
        var paths = new CampaignPaths(root);
        var config = TinyConfig();
        config.SeqLen = 16; // the tiny model's context is 32
        config.Pairs = config.Pairs with { CalibrationSequences = 8 };
        config.Final = config.Final with { BlimpLimit = 0 };
        var results = CampaignPipeline.Run(config, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);

        Assert.Equal(16, results.SeqLen);
        var measured = PairStore.ReadAll(paths.Pairs).Concat(PairStore.ReadAll(paths.Screens)).ToList();
        Assert.NotEmpty(measured);
        Assert.All(measured, p => Assert.Equal(16, p.EvalSeqLen));
        // Final FLOPs are per token of a 16-token window (attention grows with the window).
        var dense = results.Rows.Single(r => r.Method == CampaignMethod.Dense);
        using (var model = Evaluator.Checkpoints.HfCheckpoint.LoadModel(tiny.Dir, CPU))
            Assert.Equal(model.Config.ForwardFlopsPerToken(16), dense.FlopsPerToken, 6);
        // The key is recorded, so a rerun with another seq_len is refused as another configuration.
        Assert.Contains("\"seq_len\": 16", File.ReadAllText(paths.CampaignJson));
        Assert.Contains("\"calibration_sequences\": 8", File.ReadAllText(paths.CampaignJson));
        config.SeqLen = 8;
        Assert.Throws<UserError>(() => CampaignPipeline.Run(config, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance));

        // Too short a window is refused when the file is read, naming the key.
        string path = Path.Combine(root, "c.yaml");
        File.WriteAllText(path, "seq_len: 1\n");
        Assert.Contains("seq_len", Assert.Throws<UserError>(() => CampaignConfig.Load(path)).Message);
    }

    [Fact]
    public void TheObjectiveAndThePredictorTargetMustAgree()
    {
        Directory.CreateDirectory(root);
        string path = Path.Combine(root, "c.yaml");
        File.WriteAllText(path, "objective: kl\n");
        Assert.Contains("predictor.target", Assert.Throws<UserError>(() => CampaignConfig.Load(path)).Message);
        File.WriteAllText(path, "predictor:\n  target: kl\n");
        Assert.Contains("predictor.target", Assert.Throws<UserError>(() => CampaignConfig.Load(path)).Message);
        File.WriteAllText(path, "objective: perplexity\n");
        Assert.Contains("objective", Assert.Throws<UserError>(() => CampaignConfig.Load(path)).Message);
        File.WriteAllText(path, "objective: kl\npredictor:\n  target: kl\n");
        Assert.Equal("kl", CampaignConfig.Load(path).ObjectiveName);
        // The config spells targets as the command line does, and prints them so.
        File.WriteAllText(path, "predictor:\n  target: delta-uniform\n");
        var config = CampaignConfig.Load(path);
        Assert.Equal(PredictorTarget.DeltaUniform, config.Predictor.Target);
        Assert.Contains("target: delta-uniform", config.ToYaml());
    }

    [Theory]
    [InlineData("evolution:\n  population: 2.5\n", ":2: evolution.population: '2.5' is not an integer")]
    [InlineData("seed: 1e3\n", ":1: seed: '1e3' is not an integer")]
    [InlineData("active:\n  top_k: 1\n", "active.top_k 1: at least 2")]
    [InlineData("shrink:\n  rounds: 0\n", "shrink: shrink rounds 0: must be at least 1")]
    [InlineData("final:\n  recover: [none, bogus]\n", "final.recover: 'bogus' is not one of none, ls, lora, ls+lora")]
    [InlineData("predictor:\n  target: bogus\n", "predictor.target")]
    [InlineData("predictor:\n  trees: 10\n", ":2: predictor.trees: unknown key (did you mean 'predictor.number_of_trees'?)")]
    [InlineData("evolution:\n  seed: 3\n", ":2: evolution.seed: set by the campaign")]
    [InlineData("evolution:\n  selection: roulette\n", "evolution.selection: 'roulette' is not one of tournament, truncation")]
    [InlineData("final:\n  export: maybe\n", "final.export: 'maybe' is not true or false")]
    [InlineData("pairs: 3\n", ":1: pairs: expected a mapping of keys")]
    public void EveryConfigMistakeIsFoundBeforeAnyWorkAndNamesTheKey(string yaml, string expected)
    {
        Directory.CreateDirectory(root);
        string path = Path.Combine(root, "c.yaml");
        File.WriteAllText(path, yaml);
        var e = Assert.Throws<UserError>(() => CampaignConfig.Load(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheConfigSectionsAreTheStagesOptionsRecordsWithTheirDefaults()
    {
        Directory.CreateDirectory(root);
        string path = Path.Combine(root, "c.yaml");
        File.WriteAllText(path, "evolution:\n  population: 40\nactive:\n  top_k: 3\nseed: 7\n");
        var c = CampaignConfig.Load(path);
        Assert.Equal(new Predictor.PredictorOptions(), c.Predictor);
        Assert.Equal(new ShrinkOptions(), c.Shrink);
        Assert.Equal(new EvolutionOptions() with { Population = 40 }, c.Evolution);
        // The campaign derives the per-round seeds and how many candidates evolution keeps.
        // (twice the larger of the candidates a round screens, 16 by default, and confirms, 3 here)
        Assert.Equal(new EvolutionOptions() with { Population = 40, TopK = 32, Seed = 7 + 200 }, c.EvolutionFor(2));
        Assert.Equal(7 + 2, c.PredictorFor(2).Seed);
        Assert.Equal(7 + 300, c.ShrinkFor(3).Seed);
        // What --print-config shows loads back to the same configuration.
        File.WriteAllText(path, c.ToYaml());
        var again = CampaignConfig.Load(path);
        Assert.Equal(c.ToYaml(), again.ToYaml());
    }
}
