using NasPrune.Common;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

public class ArchitectureSamplerTests
{
    static readonly ModelConfig Config = ModelConfig.Uniform(vocab: 64, hidden: 32, layers: 6, heads: 8, kvHeads: 2, ffn: 96, maxPositions: 32);
    static readonly PruningSpace Space = new(Config, "base");

    [Fact]
    public void SamplesAreDistinctOnTheGridAndInsideTheBand()
    {
        var band = new BudgetBand(0.6, 0.8);
        var sample = new ArchitectureSampler(Space).Sample(new SamplerOptions(band, 60, Seed: 3));
        Assert.Equal(60, sample.Count);
        Assert.Equal(60, sample.Select(a => a.Id).Distinct().Count());
        Assert.All(sample, a =>
        {
            Assert.True(band.Contains(a.ParamRatio(Config)), $"{a.ParamRatio(Config)} outside the band");
            Assert.True(Space.OnGrid(a));
        });
        // Heterogeneous: not every sample is uniform across layers.
        Assert.Contains(sample, a => a.Layers.Distinct().Count() > 1);
    }

    [Fact]
    public void SameSeedSameSampleOtherSeedOtherSample()
    {
        var o = new SamplerOptions(new BudgetBand(0.5, 0.7), 20, Seed: 9);
        var a = new ArchitectureSampler(Space).Sample(o);
        var b = new ArchitectureSampler(Space).Sample(o);
        var c = new ArchitectureSampler(Space).Sample(o with { Seed = 10 });
        Assert.Equal(a.Select(x => x.Id), b.Select(x => x.Id));
        Assert.NotEqual(a.Skip(2).Select(x => x.Id), c.Skip(2).Select(x => x.Id)); // the anchors are shared, the draws not
    }

    [Fact]
    public void TheUniformArchitectureComesFirstAsAnAnchor()
    {
        var sample = new ArchitectureSampler(Space).Sample(new SamplerOptions(new BudgetBand(0.6, 0.8), 10, Seed: 1));
        Assert.All(sample[0].Layers, l => Assert.Equal(sample[0].Layers[0], l));
        var ones = Enumerable.Repeat(1.0, Config.NumHiddenLayers).ToArray();
        Assert.Equal(Space.Project(ones, ones, (long)Math.Floor(0.8 * Config.TotalParams)), sample[0]);
    }

    [Fact]
    public void ShrunkenBoundsAreRespected()
    {
        int n = Config.NumHiddenLayers;
        var bounds = new LayerBounds(Enumerable.Repeat(0.5, n).ToArray(), Enumerable.Repeat(1.0, n).ToArray(),
            [0.2, 0.2, 0.2, 0.6, 0.6, 0.6], [0.6, 0.6, 0.6, 1.0, 1.0, 1.0]);
        var sample = new ArchitectureSampler(Space).Sample(new SamplerOptions(new BudgetBand(0.55, 0.75), 15, Seed: 4, Bounds: bounds));
        Assert.NotEmpty(sample);
        Assert.All(sample, a => Assert.True(bounds.Contains(a, Config, Space)));
        // The first layers keep at most 60 % of their FFN channels, as the bounds say.
        Assert.All(sample, a => Assert.All(a.Layers.Take(3), l => Assert.True(l.Ffn <= 0.6 * 96 + 1e-9)));
    }

    [Fact]
    public void BadBandsAndCountsAreUserErrors()
    {
        var sampler = new ArchitectureSampler(Space);
        Assert.Throws<UserError>(() => sampler.Sample(new SamplerOptions(new BudgetBand(0.8, 0.7), 5)));
        Assert.Throws<UserError>(() => sampler.Sample(new SamplerOptions(new BudgetBand(0.5, 1.2), 5)));
        Assert.Throws<UserError>(() => sampler.Sample(new SamplerOptions(new BudgetBand(0, 0.5), 5)));
        Assert.Throws<UserError>(() => sampler.Sample(new SamplerOptions(new BudgetBand(0.5, 0.7), 0)));
        Assert.Throws<UserError>(() => sampler.Sample(new SamplerOptions(new BudgetBand(0.5, 0.7), 5,
            Bounds: new LayerBounds([0.5], [1], [0.5], [1]))));
    }
}
