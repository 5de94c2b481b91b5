namespace NasPrune.Common.Pairs;

/// <summary>
/// Where a pair row came from (its <c>source</c> column): the seeded random stream of <c>sample</c> and of a
/// campaign's initial pairs, the random-search baseline's continuation of it, the evolution peer, round r of the active loop, or the
/// predictor's synthetic benchmark pairs. The one place these names are written and read.
/// </summary>
public static class PairSource
{
    public const string Sample = "sample";
    public const string Random = "random";
    public const string Synthetic = "synthetic";
    /// <summary>The predictor-free evolution peer of a campaign (its own folders, never predictor input).</summary>
    public const string Evolution = "evolution";
    const string ActivePrefix = "active-";

    public static string Active(int round) => ActivePrefix + round;

    /// <summary>The active round that wrote a row, or null for any other source.</summary>
    public static int? ActiveRound(string source) =>
        source.StartsWith(ActivePrefix, StringComparison.Ordinal) && int.TryParse(source.AsSpan(ActivePrefix.Length), out int r) ? r : null;
}
