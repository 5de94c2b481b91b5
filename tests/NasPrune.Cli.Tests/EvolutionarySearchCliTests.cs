using NasPrune.Common;
using NasPrune.Cli.Bench;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The search benchmark of <c>nasprune bench</c> (see <c>EvolutionarySearchTests</c> for the search itself).</summary>
public class EvolutionarySearchCliTests
{
    [Fact]
    public void TheBenchmarkBreedsTheCandidatesItWasAskedFor()
    {
        var config = ModelConfig.Load(Path.Combine(DataDirectory.DefaultModel(), "config.json"));
        var r = SearchBench.Run(new PruningSpace(config, "bench"), candidates: 2000, population: 100, shrinkSampleSize: 100);
        Assert.True(r.Candidates >= 2000 && r.Candidates < 2100, $"{r.Candidates} candidates");
        Assert.True(r.Evaluated <= r.Candidates && r.Evaluated > 0);
        Assert.True(r.SearchSeconds > 0 && r.ShrinkSampled > 0);
        Assert.True(r.FinalBest < r.InitialBest, $"the search did not improve on its first generation ({r.InitialBest} → {r.FinalBest})");
    }
}
