using NasPrune.Search.Campaign;
using NasPrune.Common;
using NasPrune.Common.Pairs;
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
        Predictor = new() { Trees = 20, Leaves = 4 },
        Shrink = new() { Rounds = 1, SampleSize = 50 },
        Evolution = new() { Population = 10, Generations = 3 },
        Active = new() { Rounds = 2, TopK = 2, Patience = 2 },
        Final = new() { MaxWindows = 2, BlimpLimit = 2, MmluLimit = 0, ZeroshotLimit = 0, Recover = ["none"], Export = false },
    };

    static Dictionary<string, (DateTime, byte[])> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => (File.GetLastWriteTimeUtc(f), File.ReadAllBytes(f)));

    [Fact]
    public void ACampaignResumesAfterACrashWithoutRedoingFinishedStagesAndReportsFromItsDirectory()
    {
        var paths = new CampaignPaths(root);
        var first = CampaignPipeline.Run(TinyConfig(), paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);

        Assert.Equal(["dense", "uniform", "random", "nasprune"], first.Rows.Select(r => r.Method));
        Assert.All(first.Rows, r => Assert.InRange(r.BlimpAcc!.Value, 0, 1)); // 2 pairs × 67 paradigms
        Assert.Equal(2, first.BlimpLimit);
        var pairs = PairStore.ReadAll(paths.Pairs);
        var nasprune = first.Rows.Single(r => r.Method == "nasprune");
        var random = first.Rows.Single(r => r.Method == "random");
        Assert.Equal(pairs.Count, nasprune.RealEvaluations);
        Assert.Equal(nasprune.RealEvaluations, random.RealEvaluations); // the baseline gets as many real evaluations
        Assert.Equal(pairs.Min(p => p.WikiText2Nll), nasprune.ValidationNll);
        Assert.All(pairs, p => Assert.InRange(p.ParamRatio, 0.6 - 1e-9, 0.7 + 1e-9));
        Assert.True(File.Exists(paths.SearchRound(1)));
        // The shrunken space is written as the sampler reads it, so more pairs can be drawn inside it.
        Assert.Equal(3, LayerBoundsJson.Load(paths.SearchBounds(1), 3).HeadMin.Length);

        // A crash after the search: the final stage's outputs are gone, everything before must be reused untouched.
        var before = Snapshot(paths.Pairs).Concat(Snapshot(paths.SearchDir)).Concat(Snapshot(paths.RandomPairs)).ToDictionary();
        File.Delete(paths.FinalRow("nasprune", "none"));
        File.Delete(paths.Results);
        File.Delete(paths.Report);
        var second = CampaignPipeline.Run(TinyConfig(), paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);
        var after = Snapshot(paths.Pairs).Concat(Snapshot(paths.SearchDir)).Concat(Snapshot(paths.RandomPairs)).ToDictionary();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (file, (time, bytes)) in before)
        {
            Assert.Equal(time, after[file].Item1);
            Assert.Equal(bytes, after[file].Item2);
        }
        Assert.Equal(first.Rows.Select(r => (r.Method, r.ArchId, r.Wikitext2Ppl, r.PtbPpl)), second.Rows.Select(r => (r.Method, r.ArchId, r.Wikitext2Ppl, r.PtbPpl)));

        // The report is made from the run directory alone.
        foreach (var png in Directory.GetFiles(root, "*.png")) File.Delete(png);
        File.Delete(paths.Report);
        CampaignReport.Write(paths);
        string report = File.ReadAllText(paths.Report);
        Assert.Contains("| nasprune | none |", report);
        Assert.Contains("BLiMP mean accuracy over its 67 paradigms (2 pairs each)", report);
        Assert.Contains("| uniform | none |", report);
        foreach (var png in new[] { "pareto.png", "layer-profile.png", "predictor-scatter.png", "search-progress.png" })
            Assert.True(new FileInfo(Path.Combine(root, png)).Length > 1000, png);

        // Another configuration never mixes into this run directory.
        var other = TinyConfig();
        other.Seed = 99;
        var e = Assert.Throws<UserError>(() => CampaignPipeline.Run(other, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance));
        Assert.Contains("another configuration", e.Message);
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
        Assert.Equal((0.78, 0.8), (Math.Round(defaults.Band.Min, 10), defaults.Band.Max));

        // The shipped configurations load.
        string repo = Path.GetDirectoryName(DataDirectory.Resolve())!;
        foreach (var shipped in new[] { "experiments/default/campaign.yaml", "experiments/default/campaign-50.yaml", "experiments/default/campaign-overnight-gpu.yaml" })
            CampaignConfig.Load(Path.Combine(repo, shipped));
    }

    [Fact]
    public void ObjectiveKlSearchesOnKlAndSaysSo()
    {
        var config = TinyConfig();
        config.Objective = "kl";
        config.Predictor.Target = "kl";
        config.Active.Rounds = 1;
        var paths = new CampaignPaths(root);
        var results = CampaignPipeline.Run(config, paths, DataDirectory.Resolve(), CPU, SilentProgress.Instance);

        Assert.Equal("kl", results.Objective);
        var pairs = PairStore.ReadAll(paths.Pairs);
        Assert.All(pairs, p => Assert.True(p.WikiText2Kl > 0, $"{p.ArchId}: KL {p.WikiText2Kl}"));
        var best = pairs.MinBy(p => p.WikiText2Kl)!;
        var nasprune = results.Rows.Single(r => r.Method == "nasprune");
        Assert.Equal(best.ArchId, nasprune.ArchId); // the pick minimises KL; its validation NLL is still reported
        Assert.Equal(best.WikiText2Nll, nasprune.ValidationNll);
        Assert.Contains("\"objective\": \"kl\"", File.ReadAllText(paths.Results));
        Assert.Contains("validation KL", File.ReadAllText(paths.Report));
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
    }
}
