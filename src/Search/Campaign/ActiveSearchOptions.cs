using NasPrune.Common;

namespace NasPrune.Search.Campaign;

/// <summary>Settings of the <see cref="ActiveSearch"/> loop.</summary>
public sealed record ActiveSearchOptions
{
    /// <summary>Rounds of predict → evaluate top-k for real → retrain.</summary>
    public int Rounds { get; init; } = 5;
    /// <summary>Candidates evaluated for real per round.</summary>
    public int TopK { get; init; } = 8;
    /// <summary>Stop after this many rounds without a better real best.</summary>
    public int Patience { get; init; } = 2;

    public void Validate()
    {
        if (Rounds < 0) throw new UserError($"rounds {Rounds}: must not be negative");
        // Kendall's τ on a round's new points, logged every round, needs two of them.
        if (TopK < 2) throw new UserError($"top_k {TopK}: at least 2 (each round's rank agreement needs two new points)");
        if (Patience < 1) throw new UserError($"patience {Patience}: at least 1");
    }
}
