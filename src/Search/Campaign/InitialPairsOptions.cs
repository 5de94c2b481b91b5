using System.Text.Json.Serialization;
using NasPrune.Common;

namespace NasPrune.Search.Campaign;

/// <summary>The campaign's initial random pairs: how many, on which validation windows, with which importance calibration.</summary>
public sealed record InitialPairsOptions
{
    /// <summary>Initial random pairs the first predictor learns from.</summary>
    public int Count { get; init; } = 200;
    /// <summary>WikiText-2 validation windows each pair is measured on (a fixed seeded subset).</summary>
    public int Windows { get; init; } = 32;
    public long WindowSeed { get; init; } = 1234;
    public long CalibrationSeed { get; init; } = 1234;
    /// <summary>
    /// Validation windows the importance criterion is calibrated on; null = 32. At real shapes each costs a forward of
    /// seq_len tokens through the whole model. Null is not written into campaign.json, so older runs still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? CalibrationSequences { get; init; }

    public void Validate()
    {
        if (Count < 10) throw new UserError($"count {Count}: at least 10 pairs");
        if (Windows < 1) throw new UserError($"windows {Windows}: must be positive");
        if (CalibrationSequences is < 1) throw new UserError($"calibration_sequences {CalibrationSequences}: must be positive (empty: 32)");
    }
}
