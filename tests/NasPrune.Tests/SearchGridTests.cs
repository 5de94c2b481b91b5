using NasPrune.Common;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

/// <summary>Small spaces and objectives the search tests share.</summary>
static class SearchTestData
{
    /// <summary>4 layers, 8 heads in 2 GQA groups of 4 (3 head choices), FFN 96 in quarters (5 choices): 15⁴ = 50,625 architectures.</summary>
    public static readonly ModelConfig Config = ModelConfig.Uniform(vocab: 64, hidden: 32, layers: 4, heads: 8, kvHeads: 2, ffn: 96, maxPositions: 32);
    public static readonly PruningSpace Space = new(Config, "base", new Granularity(FfnSteps: 4));

    /// <summary>Same model, FFN in 16ths (17 choices): the grid the real search uses.</summary>
    public static readonly PruningSpace FineSpace = new(Config, "base");

    static readonly double[] HeadWeight = [3.0, 0.4, 1.5, 0.8], FfnWeight = [0.5, 2.5, 0.3, 1.8];

    /// <summary>A separable cost: per layer, weighted squared distances of the keep ratios from full width.</summary>
    public static double SeparableCost(Architecture a)
    {
        double s = 0;
        for (int i = 0; i < a.Layers.Count; i++)
        {
            double h = a.Layers[i].Heads / 8.0, f = a.Layers[i].Ffn / 96.0;
            s += HeadWeight[i] * (1 - h) * (1 - h) + FfnWeight[i] * (1 - f) * (1 - f);
        }
        return s;
    }

    /// <summary>Every architecture of <see cref="Space"/> (exactly, by parameter count) in the band, with its cost.</summary>
    public static IEnumerable<(LayerKeep[] Layers, double Cost)> AllInBand(BudgetBand band)
    {
        var heads = Space.HeadChoices(0);
        var ffn = Space.FfnChoices(0);
        var perLayer = (from h in heads from f in ffn select new LayerKeep(true, h, f)).ToArray();
        int n = Config.NumHiddenLayers;
        var index = new int[n];
        while (true)
        {
            var layers = index.Select(k => perLayer[k]).ToArray();
            var shapes = layers.Select(l => new LayerShape(true, l.Heads, l.Heads / Config.GroupSize, l.Ffn)).ToArray();
            long p = Config.EmbeddingParams + shapes.Sum(Config.LayerParams);
            if (band.Contains((double)p / Config.TotalParams))
                yield return (layers, SeparableCost(new Architecture("base", layers)));
            int d = 0;
            while (d < n && ++index[d] == perLayer.Length) index[d++] = 0;
            if (d == n) yield break;
        }
    }

    public static LayerBounds RandomBounds(Random r, int layers)
    {
        double[] headMin = new double[layers], headMax = new double[layers], ffnMin = new double[layers], ffnMax = new double[layers];
        for (int i = 0; i < layers; i++)
        {
            double a = r.NextDouble() * 0.6, b = a + 0.3 + r.NextDouble() * (1 - a - 0.3);
            (headMin[i], headMax[i]) = (a, Math.Min(1, b));
            double c = r.NextDouble() * 0.6, d = c + 0.3 + r.NextDouble() * (1 - c - 0.3);
            (ffnMin[i], ffnMax[i]) = (c, Math.Min(1, d));
        }
        return new LayerBounds(headMin, headMax, ffnMin, ffnMax);
    }

    /// <summary>A random architecture anywhere on the grid (any budget).</summary>
    public static Architecture RandomArchitecture(PruningSpace space, Random r) => new("base",
        Enumerable.Range(0, space.LayerCount).Select(i => new LayerKeep(true,
            space.HeadChoices(i)[r.Next(space.HeadChoices(i).Count)], space.FfnChoices(i)[r.Next(space.FfnChoices(i).Count)])).ToArray());

    /// <summary>True when the architecture is what every search result must be: on the grid, in the band, inside the bounds.</summary>
    public static bool Admissible(PruningSpace space, Architecture a, BudgetBand band, LayerBounds bounds) =>
        space.OnGrid(a) && band.Contains(a.ParamRatio(space.Base)) && bounds.Contains(a, space.Base, space);
}

public class SearchGridTests
{
    static readonly ModelConfig Config = SearchTestData.Config;

    [Fact]
    public void RepairLandsInsideTheBandAndTheBoundsForManySeeds()
    {
        var band = new BudgetBand(0.55, 0.7);
        for (int seed = 0; seed < 200; seed++)
        {
            var r = new Random(seed);
            var space = seed % 2 == 0 ? SearchTestData.FineSpace : SearchTestData.Space;
            var bounds = SearchTestData.RandomBounds(r, Config.NumHiddenLayers);
            SearchGrid grid;
            try { grid = new SearchGrid(space, bounds, band); }
            catch (UserError) { continue; } // these bounds miss the band entirely: nothing to repair into
            var repaired = grid.Repair(SearchTestData.RandomArchitecture(space, r), r);
            Assert.True(SearchTestData.Admissible(space, repaired, band, bounds), $"seed {seed}: {repaired.ToJsonString()}");
            Assert.True(grid.Contains(repaired));
        }
    }

    [Fact]
    public void GridParameterCountsEqualTheArchitecturesOwn()
    {
        var grid = new SearchGrid(SearchTestData.FineSpace, LayerBounds.Full(4), new BudgetBand(0.3, 0.9));
        var r = new Random(5);
        for (int k = 0; k < 50; k++)
        {
            var genome = grid.RandomGenome(r);
            Assert.Equal(grid.ToArchitecture(genome).Params(Config), grid.Params(genome));
            Assert.True(grid.TryEncode(grid.ToArchitecture(genome), out var back));
            Assert.Equal(genome, back);
        }
    }

    [Fact]
    public void BoundsThatMissTheBandAreAUserError()
    {
        var low = new LayerBounds(new double[4], Enumerable.Repeat(0.25, 4).ToArray(), new double[4], Enumerable.Repeat(0.25, 4).ToArray());
        var e = Assert.Throws<UserError>(() => new SearchGrid(SearchTestData.Space, low, new BudgetBand(0.8, 0.9)));
        Assert.Contains("misses the budget band", e.Message);
    }

    [Fact]
    public void ABandBetweenTwoGridPointsIsAUserErrorNotALoop()
    {
        // Everything fixed at full width except layer 0's FFN, which can only be 0 or 96 channels (FfnSteps 1):
        // the band sits strictly between the two parameter counts.
        var space = new PruningSpace(Config, "base", new Granularity(FfnSteps: 1));
        var bounds = new LayerBounds(Enumerable.Repeat(1.0, 4).ToArray(), Enumerable.Repeat(1.0, 4).ToArray(),
            [0.0, 1, 1, 1], Enumerable.Repeat(1.0, 4).ToArray());
        double full = 1, withoutFfn = (double)(Config.TotalParams - 3L * 32 * 96 - 32) / Config.TotalParams;
        var band = new BudgetBand(withoutFfn + (full - withoutFfn) / 3, withoutFfn + 2 * (full - withoutFfn) / 3);
        var grid = new SearchGrid(space, bounds, band);
        var e = Assert.Throws<UserError>(() => grid.Repair(space.Full, new Random(1)));
        Assert.Contains("narrower than the grid", e.Message);
    }

    [Fact]
    public void VolumeCountsTheGridPointsInsideTheBounds()
    {
        var band = new BudgetBand(0.3, 0.95);
        Assert.Equal(4 * Math.Log10(3 * 17), new SearchGrid(SearchTestData.FineSpace, LayerBounds.Full(4), band).Log10Volume, 9);
        // Heads in [0.5, 1] (4 or 8 heads) and FFN in [0.5, 0.75] (9 sixteenths) in every layer.
        var box = new LayerBounds(Enumerable.Repeat(0.5, 4).ToArray(), Enumerable.Repeat(1.0, 4).ToArray(),
            Enumerable.Repeat(0.5, 4).ToArray(), Enumerable.Repeat(0.75, 4).ToArray());
        Assert.Equal(4 * Math.Log10(2 * 5), new SearchGrid(SearchTestData.FineSpace, box, band).Log10Volume, 9);
    }

    [Fact]
    public void LayerBoundsRoundTripThroughJsonAndBadFilesNameTheField()
    {
        var bounds = new LayerBounds([0.25, 0.5], [1, 0.75], [0.125, 0], [0.875, 1]);
        string dir = Directory.CreateTempSubdirectory("bounds").FullName;
        try
        {
            string path = Path.Combine(dir, "bounds.json");
            LayerBoundsJson.Save(path, bounds);
            var back = LayerBoundsJson.Load(path, layers: 2);
            Assert.Equal(bounds.HeadMin, back.HeadMin);
            Assert.Equal(bounds.HeadMax, back.HeadMax);
            Assert.Equal(bounds.FfnMin, back.FfnMin);
            Assert.Equal(bounds.FfnMax, back.FfnMax);
            Assert.Contains("the model has 4", Assert.Throws<UserError>(() => LayerBoundsJson.Load(path, layers: 4)).Message);
            File.WriteAllText(path, """{"layers": [{"head_min": 0, "head_max": 1, "ffn_min": 0}]}""");
            Assert.Contains("layers[0].ffn_max", Assert.Throws<UserError>(() => LayerBoundsJson.Load(path)).Message);
            File.WriteAllText(path, """{"layers": [{"head_min": 0.9, "head_max": 0.1, "ffn_min": 0, "ffn_max": 1}]}""");
            Assert.Contains("layer 0", Assert.Throws<UserError>(() => LayerBoundsJson.Load(path)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
