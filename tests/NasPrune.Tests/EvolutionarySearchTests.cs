using NasPrune.Common;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

public class EvolutionarySearchTests
{
    static readonly ModelConfig Config = SearchTestData.Config;

    /// <summary>The separable cost as a batch fitness that also records every architecture it is asked about.</summary>
    static Func<IReadOnlyList<Architecture>, double[]> Recording(List<Architecture> seen) => batch =>
    {
        seen.AddRange(batch);
        return batch.Select(SearchTestData.SeparableCost).ToArray();
    };

    [Fact]
    public void EveryCandidateIsInsideTheBandAndTheBoundsAndScoredOnce()
    {
        var band = new BudgetBand(0.55, 0.7);
        int searched = 0;
        for (int seed = 0; seed < 30; seed++)
        {
            var r = new Random(seed);
            var bounds = SearchTestData.RandomBounds(r, Config.NumHiddenLayers);
            try { _ = new SearchGrid(SearchTestData.FineSpace, bounds, band); }
            catch (UserError) { continue; }
            searched++;
            var seen = new List<Architecture>();
            // Seeds from anywhere in the space (usually outside the bounds and the band) must be brought inside.
            var seeds = Enumerable.Range(0, 3).Select(_ => SearchTestData.RandomArchitecture(SearchTestData.FineSpace, r)).ToArray();
            var o = new EvolutionOptions(Population: 20, Generations: 8, Elites: 2, Seed: seed,
                Selection: seed % 2 == 0 ? ParentSelection.Tournament : ParentSelection.Truncation);
            var result = new EvolutionarySearch(SearchTestData.FineSpace).Run(o, bounds, band, Recording(seen), seeds);
            Assert.All(seen, a => Assert.True(SearchTestData.Admissible(SearchTestData.FineSpace, a, band, bounds), $"seed {seed}: {a.ToJsonString()}"));
            Assert.All(result.Top, t => Assert.True(SearchTestData.Admissible(SearchTestData.FineSpace, t.Architecture, band, bounds)));
            Assert.Equal(seen.Count, seen.Select(a => a.Id).Distinct().Count()); // never asked twice
            Assert.Equal(seen.Count, result.Evaluated);
            Assert.Equal(o.Generations + 1, result.Generations.Count);
        }
        Assert.True(searched >= 10, $"only {searched} of the random bounds reach the band");
    }

    [Fact]
    public void FindsTheBruteForceOptimumOfASeparableCost()
    {
        var band = new BudgetBand(0.6, 0.7);
        var optimum = SearchTestData.AllInBand(band).MinBy(x => x.Cost);
        var best = new Architecture("base", optimum.Layers);
        foreach (long seed in new long[] { 1, 2, 3 })
        {
            var o = new EvolutionOptions(Population: 60, Generations: 60, Elites: 4, Seed: seed);
            var result = new EvolutionarySearch(SearchTestData.Space).Run(o, LayerBounds.Full(4), band, Recording([]), []);
            Assert.Equal(best, result.Top[0].Architecture);
            Assert.Equal(optimum.Cost, result.Top[0].Score, 12);
            // Best first, distinct, and the per-generation best never gets worse (elitism).
            Assert.Equal(result.Top.OrderBy(t => t.Score).Select(t => t.Score), result.Top.Select(t => t.Score));
            Assert.Equal(result.Top.Count, result.Top.Select(t => t.Architecture).Distinct().Count());
            Assert.True(result.Generations.Zip(result.Generations.Skip(1)).All(p => p.Second.Best <= p.First.Best));
        }
    }

    [Fact]
    public void SameSeedSameResult()
    {
        var band = new BudgetBand(0.6, 0.75);
        var o = new EvolutionOptions(Population: 30, Generations: 10, Seed: 7);
        var seeds = new[] { SearchTestData.FineSpace.Uniform(0.3) };
        EvolutionResult Run(EvolutionOptions options) =>
            new EvolutionarySearch(SearchTestData.FineSpace).Run(options, LayerBounds.Full(4), band, Recording([]), seeds);
        var a = Run(o);
        var b = Run(o);
        Assert.Equal(a.Top, b.Top);
        Assert.Equal(a.Generations, b.Generations);
        Assert.Equal(a.Evaluated, b.Evaluated);
        Assert.NotEqual(a.Generations, Run(o with { Seed = 8 }).Generations);
    }

    [Fact]
    public void ASeedAtTheOptimumIsNeverLost()
    {
        var band = new BudgetBand(0.6, 0.7);
        var best = new Architecture("base", SearchTestData.AllInBand(band).MinBy(x => x.Cost).Layers);
        var o = new EvolutionOptions(Population: 10, Generations: 3, Elites: 1, Seed: 3);
        var seen = new List<Architecture>();
        var result = new EvolutionarySearch(SearchTestData.Space).Run(o, LayerBounds.Full(4), band, Recording(seen), [best]);
        Assert.Equal(best, seen[0]); // seeds come first in the first batch, unchanged when admissible
        Assert.Equal(best, result.Top[0].Architecture);
        Assert.All(result.Generations, g => Assert.Equal(SearchTestData.SeparableCost(best), g.Best, 12));
    }

    [Fact]
    public void NanScoresCountAsWorstAndBadOptionsAreUserErrors()
    {
        var band = new BudgetBand(0.6, 0.75);
        var o = new EvolutionOptions(Population: 12, Generations: 3, Seed: 1);
        // Half the architectures get NaN: none of them may be reported above a scored one.
        var result = new EvolutionarySearch(SearchTestData.FineSpace).Run(o, LayerBounds.Full(4), band,
            batch => batch.Select(a => a.Layers[0].Heads == 8 ? double.NaN : SearchTestData.SeparableCost(a)).ToArray(), []);
        Assert.All(result.Top, t => Assert.Equal(t.Architecture.Layers[0].Heads == 8, double.IsPositiveInfinity(t.Score)));
        Assert.Equal(result.Top.OrderBy(t => t.Score).Select(t => t.Score), result.Top.Select(t => t.Score));
        Assert.Throws<UserError>(() => new EvolutionarySearch(SearchTestData.FineSpace).Run(o with { Elites = 12 }, LayerBounds.Full(4), band, Recording([]), []));
    }
}
