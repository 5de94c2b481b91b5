using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>How parents are chosen.</summary>
public enum ParentSelection
{
    /// <summary>The best of <see cref="EvolutionOptions.TournamentSize"/> uniformly drawn members.</summary>
    Tournament,
    /// <summary>Uniformly from the best <see cref="EvolutionOptions.TruncationShare"/> of the population.</summary>
    Truncation,
}

/// <summary>
/// Settings of <see cref="EvolutionarySearch"/>. The defaults (population 100 × 50 generations = about 5,000
/// predicted candidates) suit a predictor that scores a batch in milliseconds; raise both for a cheap one.
/// </summary>
/// <param name="Population">Members per generation (seeds and samples fill the first one).</param>
/// <param name="Generations">Generations bred after the initial population.</param>
/// <param name="Elites">Best members carried unchanged into the next generation.</param>
/// <param name="Selection">Tournament or truncation selection of parents.</param>
/// <param name="TournamentSize">Members drawn per tournament.</param>
/// <param name="TruncationShare">Share of the population parents are drawn from under truncation selection.</param>
/// <param name="CrossoverRate">Probability a child mixes two parents (per-layer uniform) instead of copying one.</param>
/// <param name="MutationRate">Probability each gene (a layer's heads, a layer's FFN) is mutated.</param>
/// <param name="ResetRate">Share of mutations that redraw the gene anywhere in its range instead of a ±1 grid step.</param>
/// <param name="TopK">Distinct best architectures returned.</param>
/// <param name="DuplicateRetries">Extra mutations tried when a child was already evaluated, before accepting it.</param>
/// <param name="Seed">Seed of the one <see cref="Random"/> that drives everything.</param>
public sealed record EvolutionOptions(
    int Population = 100,
    int Generations = 50,
    int Elites = 10,
    ParentSelection Selection = ParentSelection.Tournament,
    int TournamentSize = 3,
    double TruncationShare = 0.3,
    double CrossoverRate = 0.9,
    double MutationRate = 0.1,
    double ResetRate = 0.2,
    int TopK = 10,
    int DuplicateRetries = 4,
    long Seed = 1234)
{
    public void Validate()
    {
        if (Population < 2) throw new UserError($"evolution population {Population}: needs at least 2");
        if (Generations < 0) throw new UserError($"evolution generations {Generations}: must not be negative");
        if (Elites < 0 || Elites >= Population) throw new UserError($"evolution elites {Elites}: must be in [0, population {Population})");
        if (TournamentSize < 1) throw new UserError($"evolution tournament size {TournamentSize}: must be at least 1");
        if (!(TruncationShare > 0 && TruncationShare <= 1)) throw new UserError($"evolution truncation share {TruncationShare}: must be in (0, 1]");
        if (!(CrossoverRate >= 0 && CrossoverRate <= 1)) throw new UserError($"evolution crossover rate {CrossoverRate}: must be in [0, 1]");
        if (!(MutationRate >= 0 && MutationRate <= 1)) throw new UserError($"evolution mutation rate {MutationRate}: must be in [0, 1]");
        if (!(ResetRate >= 0 && ResetRate <= 1)) throw new UserError($"evolution reset rate {ResetRate}: must be in [0, 1]");
        if (TopK < 1) throw new UserError($"evolution top-k {TopK}: must be at least 1");
        if (DuplicateRetries < 0) throw new UserError($"evolution duplicate retries {DuplicateRetries}: must not be negative");
    }
}
