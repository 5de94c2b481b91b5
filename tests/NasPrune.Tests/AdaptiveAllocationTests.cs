using NasPrune.Common;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

public class AdaptiveAllocationTests
{
    static readonly ModelConfig Config = SearchTestData.Config;

    /// <summary>Per-layer scale factors times random per-unit scores (heads: 8 per layer, channels: 96).</summary>
    static ImportanceProfile Profile(Random r, double[] headScale, double[] ffnScale) => new("test", "base", Config.GroupSize,
        headScale.Select(s => Enumerable.Range(0, 8).Select(_ => s * (0.5 + r.NextDouble())).ToArray()).ToArray(),
        ffnScale.Select(s => Enumerable.Range(0, 96).Select(_ => s * (0.5 + r.NextDouble())).ToArray()).ToArray(),
        new double[Config.NumHiddenLayers]);

    static double[] RandomScales(Random r) => Enumerable.Range(0, Config.NumHiddenLayers).Select(_ => Math.Exp(2 * r.NextDouble() - 1)).ToArray();

    [Fact]
    public void ResultIsOnTheGridAndInTheBand()
    {
        var r = new Random(1);
        foreach (var space in new[] { SearchTestData.Space, SearchTestData.FineSpace })
            foreach (var band in new[] { new BudgetBand(0.6, 0.7), new BudgetBand(0.75, 0.8), new BudgetBand(0.5, 0.52) })
                for (int k = 0; k < 10; k++)
                {
                    var profile = Profile(r, RandomScales(r), RandomScales(r));
                    var o = new AdaptiveOptions(Strength: 0.05 * k);
                    var a = AdaptiveAllocation.Allocate(space, profile, band, o);
                    Assert.True(SearchTestData.Admissible(space, a, band, LayerBounds.Full(space.LayerCount)), a.ToJsonString());
                    Assert.Equal(a, AdaptiveAllocation.Allocate(space, profile, band, o)); // deterministic
                }
    }

    [Fact]
    public void StrengthZeroIsTheUniformProjection()
    {
        var r = new Random(2);
        int compared = 0;
        foreach (var space in new[] { SearchTestData.Space, SearchTestData.FineSpace })
            foreach (var band in new[] { new BudgetBand(0.6, 0.7), new BudgetBand(0.75, 0.8), new BudgetBand(0.5, 0.52), new BudgetBand(0.55, 0.75), new BudgetBand(0.7, 0.85) })
            {
                var ones = Enumerable.Repeat(1.0, space.LayerCount).ToArray();
                var uniform = space.Project(ones, ones, (long)Math.Floor(band.MaxKept * Config.TotalParams));
                var a = AdaptiveAllocation.Allocate(space, Profile(r, RandomScales(r), RandomScales(r)), band, new AdaptiveOptions(Strength: 0));
                // On a coarse grid the uniform projection can fall below the band; then the allocation is repaired into it.
                if (!band.Contains(uniform.ParamRatio(Config))) continue;
                Assert.Equal(uniform, a);
                compared++;
            }
        Assert.True(compared >= 3, $"only {compared} uniform projections in their band");
    }

    [Fact]
    public void MoreImportantLayersKeepAtLeastAsMuch()
    {
        var r = new Random(3);
        var band = new BudgetBand(0.6, 0.7);
        for (int k = 0; k < 20; k++)
        {
            double[] headScale = RandomScales(r), ffnScale = RandomScales(r);
            var profile = Profile(r, headScale, ffnScale);
            var (heads, ffn) = AdaptiveAllocation.LayerScores(SearchTestData.FineSpace, profile);
            var a = AdaptiveAllocation.Allocate(SearchTestData.FineSpace, profile, band, new AdaptiveOptions(Strength: 0.2));
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                {
                    if (heads[i] > heads[j]) Assert.True(a.Layers[i].Heads >= a.Layers[j].Heads, $"case {k}: heads of layers {i}, {j}");
                    if (ffn[i] > ffn[j]) Assert.True(a.Layers[i].Ffn >= a.Layers[j].Ffn, $"case {k}: FFN of layers {i}, {j}");
                }
        }

        // One layer made far more important than another keeps strictly more (FFN: heads come in halves here, too coarse
        // for the default strength to separate), and at least as many heads.
        var scaled = Profile(r, [100, 1, 1, 0.01], [100, 1, 1, 0.01]);
        var b = AdaptiveAllocation.Allocate(SearchTestData.FineSpace, scaled, band);
        Assert.True(b.Layers[0].Heads >= b.Layers[3].Heads && b.Layers[0].Ffn > b.Layers[3].Ffn, b.ToJsonString());
    }

    [Fact]
    public void ZScoresAreStandardisedAndZeroForEqualValues()
    {
        var z = AdaptiveAllocation.ZScores([1.0, 2.0, 3.0]);
        Assert.Equal(0, z.Sum(), 12);
        Assert.Equal(1, z.Average(v => v * v), 12);
        Assert.Equal(new double[3], AdaptiveAllocation.ZScores([2.0, 2.0, 2.0]));
        Assert.Empty(AdaptiveAllocation.ZScores([]));
    }

    [Fact]
    public void RefusesAProfileOfAnotherModelAndBadOptions()
    {
        var r = new Random(4);
        var wrong = Profile(r, [1, 1, 1], [1, 1, 1]);
        Assert.Throws<UserError>(() => AdaptiveAllocation.Allocate(SearchTestData.Space, wrong, new BudgetBand(0.6, 0.7)));
        var ok = Profile(r, [1, 1, 1, 1], [1, 1, 1, 1]);
        Assert.Throws<UserError>(() => AdaptiveAllocation.Allocate(SearchTestData.Space, ok, new BudgetBand(0.6, 0.7), new AdaptiveOptions(Strength: -1)));
        Assert.Throws<UserError>(() => AdaptiveAllocation.Allocate(SearchTestData.Space, ok, new BudgetBand(0.6, 0.7), new AdaptiveOptions(MinRatio: 1)));
    }
}
