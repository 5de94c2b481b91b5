using System.Text;
using NasPrune.Search.Campaign;
using Xunit;

namespace NasPrune.Tests;

/// <summary>results.json's confidence section on a small synthetic results set: the right peers, named; JSON; the report's table.</summary>
public sealed class CampaignConfidenceTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("nasprune-confidence-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static ResultRow Row(CampaignMethod method, string recovery) => new(method, recovery, null, 0, 0, 0, 0, 0, 0, null, null, null, 0, null);

    /// <summary>30 windows of 100 tokens whose mean NLL is <paramref name="level"/> plus shared per-window difficulty.</summary>
    static WindowSamples Windows(string task, double level) =>
        new(task, Enumerable.Range(0, 30).Select(w => 100 * (level + 0.2 * Math.Sin(w))).ToList(), Enumerable.Repeat(100L, 30).ToList());

    /// <summary>Two strata whose first <paramref name="right"/> of 50 items are right.</summary>
    static List<ItemSamples> Items(int right) =>
        new[] { "a", "b" }.Select(n => new ItemSamples(n, Enumerable.Range(0, 50).Select(i => i < right ? 1 : 0).ToList())).ToList();

    static FinalSamples Samples(CampaignMethod method, double wiki, double ptb, int blimp) =>
        new(method, "none", [Windows("wikitext2", wiki), Windows("ptb", ptb), Windows("heldout", 4)], Items(blimp));

    [Fact]
    public void EachRowIsComparedWithUniformAndItsBestPeerByPointEstimate()
    {
        var samples = new Dictionary<CampaignMethod, FinalSamples>
        {
            [CampaignMethod.Dense] = Samples(CampaignMethod.Dense, 2.0, 2.0, 45),
            [CampaignMethod.Uniform] = Samples(CampaignMethod.Uniform, 3.0, 3.0, 30),
            [CampaignMethod.Random] = Samples(CampaignMethod.Random, 2.9, 2.5, 31),
            [CampaignMethod.NasPrune] = Samples(CampaignMethod.NasPrune, 2.6, 2.7, 38),
        };
        var rows = samples.Keys.Select(m => Row(m, "none")).Append(Row(CampaignMethod.Uniform, "ls")).ToList();
        var section = CampaignConfidence.Compute(rows, r => r.Recovery == "none" ? samples[r.Method] : null, seed: 9);

        Assert.Equal(2000, section.Resamples);
        Assert.Equal(9, section.Seed);
        Assert.Equal(0.95, section.Level);
        // Dense is no peer; a row without samples gets no intervals.
        Assert.Equal([CampaignMethod.Uniform, CampaignMethod.Random, CampaignMethod.NasPrune], section.Rows.Select(r => r.Method));
        var ours = section.Rows.Single(r => r.Method == CampaignMethod.NasPrune).Metrics;
        var rnd = section.Rows.Single(r => r.Method == CampaignMethod.Random).Metrics;
        var uniform = section.Rows.Single(r => r.Method == CampaignMethod.Uniform).Metrics;

        // WikiText-2: NasPrune best, random second. PTB: random best. BLiMP: NasPrune best. Dense is never a peer.
        Assert.Equal(CampaignMethod.Random, ours["wikitext2_ppl"].VsBestPeer!.Against);
        Assert.Equal(CampaignMethod.Random, ours["ptb_ppl"].VsBestPeer!.Against);
        Assert.Equal(CampaignMethod.NasPrune, rnd["wikitext2_ppl"].VsBestPeer!.Against);
        Assert.Equal(CampaignMethod.NasPrune, rnd["ptb_ppl"].VsBestPeer!.Against);
        Assert.Equal(CampaignMethod.NasPrune, uniform["blimp_acc"].VsBestPeer!.Against);
        Assert.Equal(CampaignMethod.Random, ours["blimp_acc"].VsBestPeer!.Against);
        Assert.Null(uniform["wikitext2_ppl"].VsUniform);
        Assert.False(ours.ContainsKey("mmlu_acc"));

        // Estimates are the differences of the measured figures; a shift every window shares is certain.
        var vsUniform = ours["wikitext2_ppl"].VsUniform!;
        Assert.Equal(CampaignMethod.Uniform, vsUniform.Against);
        double Ppl(double level) => Math.Exp(Enumerable.Range(0, 30).Sum(w => level + 0.2 * Math.Sin(w)) / 30);
        Assert.Equal(Ppl(2.6) - Ppl(3.0), vsUniform.Estimate, 1e-9);
        Assert.True(vsUniform.ExcludesZero && vsUniform.Hi < 0);
        Assert.Equal((Ppl(2.6) / Ppl(3.0) - 1) * 100, vsUniform.RelativePct!.Estimate, 1e-9);
        Assert.Equal(0.16, ours["blimp_acc"].VsUniform!.Estimate, 1e-12);
        var same = ours["heldout_ppl"].VsUniform!;
        Assert.Equal((0.0, 0.0, 0.0, false), (same.Estimate, same.Lo, same.Hi, same.ExcludesZero));

        // The section survives results.json and reads into the report's table.
        var results = new CampaignResults("m", "h", 0.3, "activation", "test", 128, 2, 2, 0, 0, rows, Confidence: section);
        string path = Path.Combine(dir, "results.json");
        results.Save(path);
        var text = File.ReadAllText(path);
        Assert.Contains("\"vs_best_peer\"", text);
        Assert.Contains("\"excludes_zero\"", text);
        Assert.Contains("\"against\": \"random\"", text);
        var loaded = CampaignResults.Load(path).Confidence!;
        Assert.Equal(section.Rows.Count, loaded.Rows.Count);
        Assert.Equal(ours["ptb_ppl"], loaded.Rows.Single(r => r.Method == CampaignMethod.NasPrune).Metrics["ptb_ppl"]);
        var md = new StringBuilder();
        ConfidenceReport.Append(md, loaded);
        Assert.Contains("## 95 % paired bootstrap intervals", md.ToString());
        Assert.Contains("claimed only where its interval excludes zero", md.ToString());
        Assert.Contains("| nasprune | none | PTB PPL |", md.ToString());
        Assert.Contains("| random | none |", md.ToString());
    }

    [Fact]
    public void OneTestWindowGivesNoIntervalInResultsOrReport()
    {
        // final.max_windows 1: one window per task, so the bootstrap sees no spread; nothing may be claimed.
        static FinalSamples One(CampaignMethod method, double level) =>
            new(method, "none", [new("wikitext2", [100 * level], [100L]), new("ptb", [100 * level], [100L]), new("heldout", [100 * level], [100L])], Items(25));
        var samples = new Dictionary<CampaignMethod, FinalSamples>
        {
            [CampaignMethod.Uniform] = One(CampaignMethod.Uniform, 3.0),
            [CampaignMethod.NasPrune] = One(CampaignMethod.NasPrune, 2.0),
        };
        var rows = samples.Keys.Select(m => Row(m, "none")).ToList();
        var section = CampaignConfidence.Compute(rows, r => samples[r.Method], seed: 9);
        var vsUniform = section.Rows.Single(r => r.Method == CampaignMethod.NasPrune).Metrics["wikitext2_ppl"].VsUniform!;
        Assert.Equal(Math.Exp(2.0) - Math.Exp(3.0), vsUniform.Estimate, 1e-9);
        Assert.False(vsUniform.ExcludesZero);

        var results = new CampaignResults("m", "h", 0.3, "activation", "test", 128, 1, 0, 0, 0, rows, Confidence: section);
        string path = Path.Combine(dir, "results.json");
        results.Save(path);
        var md = new StringBuilder();
        ConfidenceReport.Append(md, CampaignResults.Load(path).Confidence!);
        Assert.Contains("(no interval: one item)", md.ToString());
        Assert.DoesNotContain("✓", md.ToString().Split("claimed only where")[1].Split('\n', 2)[1]);
    }

    [Fact]
    public void SamplesFilesRoundTripExactly()
    {
        var samples = Samples(CampaignMethod.NasPrune, 2.6, 2.7, 38) with { Mmlu = [new ItemSamples("mmlu", [1, 0, 1])], Zeroshot = [new ItemSamples("boolq", [0, 1], "acc")] };
        string path = Path.Combine(dir, "nasprune-none.samples.json");
        samples.Save(path);
        var loaded = FinalSamples.Load(path);
        Assert.Equal(samples.Perplexity.SelectMany(w => w.Nll), loaded.Perplexity.SelectMany(w => w.Nll));
        Assert.Equal(samples.Blimp!.SelectMany(s => s.Correct), loaded.Blimp!.SelectMany(s => s.Correct));
        Assert.Equal("acc", loaded.Zeroshot!.Single().Metric);
        Assert.Equal(CampaignMethod.NasPrune, loaded.Method);
        Assert.Single(File.ReadAllLines(path)); // compact: one line however many items
    }
}
