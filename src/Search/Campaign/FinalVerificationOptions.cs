using NasPrune.Common;
using NasPrune.Evaluator.Pruning;

namespace NasPrune.Search.Campaign;

/// <summary>What <see cref="FinalVerification"/> measures on the test splits (the only stage that reads them).</summary>
public sealed record FinalVerificationOptions
{
    /// <summary>Test windows per perplexity task (null = whole splits).</summary>
    public int? MaxWindows { get; init; }
    /// <summary>
    /// BLiMP pairs per paradigm (null = all 1,000, 0 = skip). 100 × 67 paradigms = 6,700 pairs: about 270 s of
    /// CPU time per result row for a 7M-parameter model (README), a tenth of the whole set's.
    /// </summary>
    public int? BlimpLimit { get; init; } = 100;
    /// <summary>MMLU questions per subject (5-shot; null = all, 0 = skip).</summary>
    public int? MmluLimit { get; init; } = 4;
    /// <summary>Items per zero-shot task (null = all, 0 = skip).</summary>
    public int? ZeroshotLimit { get; init; } = 100;
    /// <summary>Recoveries to compare for every pruned method (none, ls, lora, ls+lora).</summary>
    public List<string> Recover { get; init; } = ["none", "ls"];
    /// <summary>Export the pruned checkpoints into final/&lt;method&gt;/.</summary>
    public bool Export { get; init; } = true;

    public void Validate()
    {
        if (MaxWindows is <= 0) throw new UserError($"max_windows {MaxWindows}: must be positive");
        if (BlimpLimit is < 0) throw new UserError($"blimp_limit {BlimpLimit}: must be 0 or more");
        if (MmluLimit is < 0) throw new UserError($"mmlu_limit {MmluLimit}: must be 0 or more");
        if (ZeroshotLimit is < 0) throw new UserError($"zeroshot_limit {ZeroshotLimit}: must be 0 or more");
        if (Recover.Count == 0) throw new UserError($"recover: name at least one of {string.Join(", ", RecoveryPlan.Names)}");
        foreach (var name in Recover)
            if (!RecoveryPlan.Names.Contains(name.ToLowerInvariant())) throw new UserError($"recover: '{name}' is not one of {string.Join(", ", RecoveryPlan.Names)}");
    }
}
