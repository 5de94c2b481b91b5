using NasPrune.Common;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

public class ShrinkTests
{
    static readonly ModelConfig Config = SearchTestData.Config;
    static readonly PruningSpace Space = SearchTestData.FineSpace;
    static readonly BudgetBand Band = new(0.55, 0.7);
    static readonly ShrinkOptions Small = new(Rounds: 3, SampleSize: 150, TopQuantile: 0.2, TailShare: 0.1);

    static double[] Cost(IReadOnlyList<Architecture> batch) => batch.Select(SearchTestData.SeparableCost).ToArray();

    [Fact]
    public void ShrinkingNarrowsTheSpaceAndKeepsTheBestOfEachRound()
    {
        var result = new SpaceShrinker(Space).Shrink(Small, LayerBounds.Full(4), Band, Cost, []);
        Assert.Equal(3, result.Rounds.Count);
        foreach (var round in result.Rounds)
        {
            Assert.True(round.OutputLog10Volume <= round.InputLog10Volume + 1e-12, $"round {round.Round} grew the space");
            Assert.True(round.Output.Contains(round.BestArchitecture, Config, Space));
            Assert.Equal(SearchTestData.SeparableCost(round.BestArchitecture), round.BestPredicted, 12);
            Assert.True(round.BestPredicted <= round.TopThreshold);
        }
        Assert.True(result.Rounds[^1].OutputLog10Volume < result.Rounds[0].InputLog10Volume - 1, "the space barely shrank");
        Assert.Equal(result.Rounds.Min(r => r.BestPredicted), result.Best.Score);
        Assert.Same(result.Rounds[^1].Output, result.Bounds);
        // Rounds chain: each samples inside the bounds the previous one produced.
        Assert.All(result.Rounds.Skip(1).Zip(result.Rounds), p => Assert.Same(p.Second.Output, p.First.Input));
    }

    [Fact]
    public void MustKeepArchitecturesAreNeverExcluded()
    {
        for (int seed = 0; seed < 5; seed++)
        {
            var r = new Random(seed);
            // Anywhere in the space, even outside the band: the worst the cost can think of included.
            var mustKeep = new[] { SearchTestData.RandomArchitecture(Space, r), SearchTestData.RandomArchitecture(Space, r),
                new Architecture("base", Enumerable.Repeat(new LayerKeep(true, 4, 6), 4).ToArray()) };
            var result = new SpaceShrinker(Space).Shrink(Small with { SampleSize = 80, Seed = seed }, LayerBounds.Full(4), Band, Cost, mustKeep);
            Assert.All(result.Rounds, round => Assert.All(mustKeep, a =>
            {
                Assert.True(round.Input.Contains(a, Config, Space), $"seed {seed} round {round.Round} input excludes {a.ToJsonString()}");
                Assert.True(round.Output.Contains(a, Config, Space), $"seed {seed} round {round.Round} output excludes {a.ToJsonString()}");
            }));
        }
    }

    [Fact]
    public void StartBoundsAreWidenedToHoldMustKeepArchitectures()
    {
        var narrow = new LayerBounds(Enumerable.Repeat(0.75, 4).ToArray(), Enumerable.Repeat(1.0, 4).ToArray(),
            Enumerable.Repeat(0.5, 4).ToArray(), Enumerable.Repeat(1.0, 4).ToArray());
        var outside = new Architecture("base", [new LayerKeep(true, 4, 12), new LayerKeep(true, 8, 96), new LayerKeep(true, 8, 96), new LayerKeep(true, 8, 96)]);
        Assert.False(narrow.Contains(outside, Config, Space));
        var result = new SpaceShrinker(Space).Shrink(Small with { Rounds = 1 }, narrow, Band, Cost, [outside]);
        Assert.True(result.Rounds[0].Input.Contains(outside, Config, Space));
        Assert.Equal(0.5, result.Rounds[0].Input.HeadMin[0]);
        Assert.Equal(0.125, result.Rounds[0].Input.FfnMin[0]);
        Assert.Equal(0.75, result.Rounds[0].Input.HeadMin[1]); // other layers untouched
    }

    [Fact]
    public void SameSeedSameRoundsAndRoundsRoundTripThroughJson()
    {
        var a = new SpaceShrinker(Space).Shrink(Small, LayerBounds.Full(4), Band, Cost, []);
        var b = new SpaceShrinker(Space).Shrink(Small, LayerBounds.Full(4), Band, Cost, []);
        for (int k = 0; k < a.Rounds.Count; k++)
        {
            Assert.Equal(a.Rounds[k].Output.HeadMin, b.Rounds[k].Output.HeadMin);
            Assert.Equal(a.Rounds[k].Output.FfnMax, b.Rounds[k].Output.FfnMax);
            Assert.Equal(a.Rounds[k].BestArchitecture, b.Rounds[k].BestArchitecture);
            Assert.Equal(a.Rounds[k].OutputLog10Volume, b.Rounds[k].OutputLog10Volume);
        }
        var json = a.Rounds[1].ToJson();
        var back = LayerBoundsJson.Parse(json.ToJsonString(), "round-1.json");
        Assert.Equal(a.Rounds[1].Output.HeadMin, back.HeadMin);
        Assert.Equal(a.Rounds[1].Output.FfnMax, back.FfnMax);
        Assert.Equal(1, (int)json["round"]!);
        Assert.Equal(a.Rounds[1].BestArchitecture, Architecture.FromJson(json["best_architecture"]!.ToJsonString(), "round-1.json"));
    }

    [Fact]
    public void EvolutionInsideShrunkenBoundsStaysInside()
    {
        var shrunk = new SpaceShrinker(Space).Shrink(Small, LayerBounds.Full(4), Band, Cost, []);
        var seen = new List<Architecture>();
        var result = new EvolutionarySearch(Space).Run(new EvolutionOptions(Population: 20, Generations: 10, Seed: 2), shrunk.Bounds, Band,
            batch => { seen.AddRange(batch); return Cost(batch); }, [shrunk.Best.Architecture]);
        Assert.All(seen, a => Assert.True(SearchTestData.Admissible(Space, a, Band, shrunk.Bounds)));
        Assert.True(result.Top[0].Score <= shrunk.Best.Score);
    }
}
