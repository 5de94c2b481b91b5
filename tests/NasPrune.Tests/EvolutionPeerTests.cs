using NasPrune.Common;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

public class EvolutionPeerTests
{
    static readonly PruningSpace Space = SearchTestData.Space;
    static readonly BudgetBand Band = new(0.6, 0.7);

    /// <summary>The uniform architecture filling the band's upper edge from below: the start the campaign passes.</summary>
    static Architecture Uniform(PruningSpace space, BudgetBand band)
    {
        var ones = Enumerable.Repeat(1.0, space.LayerCount).ToArray();
        return space.Project(ones, ones, (long)Math.Floor(band.MaxKept * space.Base.TotalParams));
    }

    /// <summary>A stable (process-independent) hash of an id, in [0, 1).</summary>
    static double StableUnit(string s, int salt)
    {
        ulong h = 1469598103934665603UL ^ (ulong)salt;
        foreach (char c in s) h = (h ^ c) * 1099511628211UL;
        return (h >> 11) / (double)(1UL << 53);
    }

    /// <summary>The separable cost plus noise that shrinks with the windows, as a measured objective would.</summary>
    static double Noisy(Architecture a, int windows) =>
        SearchTestData.SeparableCost(a) + (StableUnit(a.Id, windows) - 0.5) / Math.Sqrt(windows);

    [Fact]
    public void EveryArchitectureIsOnTheGridInTheBandAndTheBudgetIsKept()
    {
        var bounds = LayerBounds.Full(Space.LayerCount);
        foreach (var (budget, seed) in new[] { (32L, 1L), (100L, 2L), (777L, 3L), (3000L, 4L) })
        {
            var seen = new List<(Architecture A, int W)>();
            var o = new EvolutionPeerOptions(BudgetWindows: budget, Seed: seed);
            var result = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), (a, w) => { seen.Add((a, w)); return Noisy(a, w); });
            Assert.All(seen, s => Assert.True(SearchTestData.Admissible(Space, s.A, Band, bounds), s.A.ToJsonString()));
            Assert.All(seen, s => Assert.True(s.W == o.ScreenWindows || s.W == o.FullWindows));
            Assert.True(result.SpentWindows <= budget);
            Assert.Equal(result.Trace.Sum(e => (long)e.Windows), result.SpentWindows);
            Assert.Equal(seen.Select(s => (s.A.Id, s.W)), result.Trace.Select(e => (e.ArchId, e.Windows)));
            Assert.Equal(Enumerable.Range(0, result.Trace.Count), result.Trace.Select(e => e.Index));
            Assert.All(result.Trace, e => Assert.Equal(e.Windows == o.FullWindows, e.Full));
            // The start is evaluated first, at full windows; the result is the best full evaluation.
            Assert.True(result.Trace[0].Full);
            Assert.Equal(result.Trace.Where(e => e.Full).Min(e => e.Objective), result.BestObjective);
            Assert.True(SearchTestData.Admissible(Space, result.Best, Band, bounds));
            // No (architecture, windows) asked twice.
            Assert.Equal(seen.Count, seen.Select(s => (s.A.Id, s.W)).Distinct().Count());
        }
    }

    [Fact]
    public void AGenerationCutShortByTheBudgetStillConfirmsItsBestScreen()
    {
        // 32 (start) + 3 screens of 8 + one confirmation of 32 = 88: screening stops where one confirmation still fits.
        var o = new EvolutionPeerOptions(BudgetWindows: 88, Seed: 5);
        var result = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), Noisy);
        Assert.Equal(new[] { 32, 8, 8, 8, 32 }, result.Trace.Select(e => e.Windows));
        Assert.Equal(88, result.SpentWindows);
        // The confirmed one is the best of the three screens.
        var screens = result.Trace.Skip(1).Take(3).ToArray();
        Assert.Equal(screens.MinBy(e => e.Objective)!.ArchId, result.Trace[4].ArchId);
    }

    [Fact]
    public void ScreensOnTheFullWindowsAreNotConfirmedAgain()
    {
        var o = new EvolutionPeerOptions(ScreenWindows: 32, FullWindows: 32, BudgetWindows: 32 * 40, Seed: 6);
        var result = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), Noisy);
        Assert.All(result.Trace, e => Assert.True(e.Full));
        Assert.Equal(result.Trace.Count, result.Trace.Select(e => e.ArchId).Distinct().Count());
        Assert.Equal(32 * 40, result.SpentWindows);
    }

    [Fact]
    public void FindsTheBruteForceOptimumWithAnOracle()
    {
        var optimum = SearchTestData.AllInBand(Band).MinBy(x => x.Cost);
        var best = new Architecture("base", optimum.Layers);
        foreach (long seed in new long[] { 1, 2, 3 })
        {
            var o = new EvolutionPeerOptions(BudgetWindows: 40_000, Seed: seed);
            var result = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), (a, _) => SearchTestData.SeparableCost(a));
            Assert.Equal(best, result.Best);
            Assert.Equal(optimum.Cost, result.BestObjective, 12);
        }
    }

    [Fact]
    public void IsDeterministicAndAMemoisedReplayAsksTheSameSequence()
    {
        var o = new EvolutionPeerOptions(BudgetWindows: 2000, Seed: 7);
        var asked = new List<(string, int)>();
        var memo = new Dictionary<(string, int), double>();
        var first = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), (a, w) =>
        {
            asked.Add((a.Id, w));
            return memo[(a.Id, w)] = Noisy(a, w);
        });
        var second = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), Noisy);
        Assert.Equal(first.Trace, second.Trace);
        Assert.Equal(first.Best, second.Best);

        // Replay after a crash: every answer comes from the memo, and the questions come in the same order.
        var replayed = new List<(string, int)>();
        var replay = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), (a, w) =>
        {
            replayed.Add((a.Id, w));
            return memo[(a.Id, w)];
        });
        Assert.Equal(asked, replayed);
        Assert.Equal(first.Trace, replay.Trace);

        var other = new EvolutionPeer(Space).Run(o with { Seed = 8 }, Band, Uniform(Space, Band), Noisy);
        Assert.NotEqual(first.Trace.Select(e => e.ArchId), other.Trace.Select(e => e.ArchId));
    }

    [Fact]
    public void TheAnytimeCurveIsMonotoneAndCountsEveryWindow()
    {
        var o = new EvolutionPeerOptions(BudgetWindows: 1500, Seed: 9);
        var result = new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), Noisy);
        var curve = AnytimeCurve.Of(result.Trace);
        Assert.Equal(result.Trace.Count, curve.Count);
        long sum = 0;
        for (int k = 0; k < curve.Count; k++)
        {
            sum += result.Trace[k].Windows;
            Assert.Equal(sum, curve[k].Windows);
            if (k > 0) Assert.True(curve[k].Best <= curve[k - 1].Best);
        }
        Assert.Equal(result.SpentWindows, curve[^1].Windows);
        Assert.Equal(result.BestObjective, curve[^1].Best);
    }

    [Fact]
    public void TheAnytimeCurveIgnoresScreensForTheBest()
    {
        var trace = new[]
        {
            new RealEvaluation(0, "a", 32, 5.0, true), new RealEvaluation(1, "b", 8, 1.0, false),
            new RealEvaluation(2, "b", 32, 4.0, true), new RealEvaluation(3, "c", 32, 4.5, true),
        };
        Assert.Equal(new[] { new AnytimePoint(32, 5.0), new AnytimePoint(40, 5.0), new AnytimePoint(72, 4.0), new AnytimePoint(104, 4.0) },
            AnytimeCurve.Of(trace));
        Assert.Empty(AnytimeCurve.Of([]));
    }

    [Theory]
    [InlineData(0, 2, 8, 32, 4096, "offspring")]
    [InlineData(16, 0, 8, 32, 4096, "survivors")]
    [InlineData(4, 5, 8, 32, 4096, "survivors")]
    [InlineData(16, 2, 0, 32, 4096, "screen windows")]
    [InlineData(16, 2, 33, 32, 4096, "screen windows")]
    [InlineData(16, 2, 8, 32, 31, "budget")]
    public void RefusesBadOptions(int offspring, int survivors, int screen, int full, long budget, string field)
    {
        var o = new EvolutionPeerOptions(Offspring: offspring, Survivors: survivors, ScreenWindows: screen, FullWindows: full, BudgetWindows: budget);
        var e = Assert.Throws<UserError>(() => new EvolutionPeer(Space).Run(o, Band, Uniform(Space, Band), Noisy));
        Assert.Contains(field, e.Message);
    }
}
