using NasPrune.Common;
using NasPrune.Predictor;

namespace NasPrune.Search.Campaign;

/// <summary>
/// Settings of the <see cref="ActiveSearch"/> loop. Each round: fresh random candidates inside the shrunken space
/// (so the predictor learns the region it is asked about), then the best candidates by acquisition screened on a few
/// windows, and the best screens confirmed on the full windows.
/// </summary>
public sealed record ActiveSearchOptions
{
    /// <summary>Rounds of predict → evaluate for real → retrain.</summary>
    public int Rounds { get; init; } = 5;
    /// <summary>Candidates confirmed on the full windows per round (the best screens; without screening, the best by acquisition).</summary>
    public int TopK { get; init; } = 8;
    /// <summary>Stop after this many rounds without a better real best.</summary>
    public int Patience { get; init; } = 2;
    /// <summary>Random candidates drawn inside each round's shrunken space and measured on the full windows.</summary>
    public int Fresh { get; init; } = 4;
    /// <summary>Candidates screened per round (the best by acquisition); ignored when screen_windows is 0.</summary>
    public int Screen { get; init; } = 16;
    /// <summary>Windows of a screen (the first of the full measure's windows); 0 = no screening.</summary>
    public int ScreenWindows { get; init; } = 8;
    /// <summary>Predictors in the bootstrap ensemble that gives each prediction a spread (1 = no spread).</summary>
    public int Ensemble { get; init; } = 8;
    /// <summary>How mean and spread become the evolution's fitness: mean, lcb or ei.</summary>
    public AcquisitionKind Acquisition { get; init; } = AcquisitionKind.Ei;
    /// <summary>κ of the lower confidence bound mean − κ·spread.</summary>
    public double Kappa { get; init; } = 1.0;

    public bool Screens => ScreenWindows > 0;

    public void Validate()
    {
        if (Rounds < 0) throw new UserError($"rounds {Rounds}: must not be negative");
        // Kendall's τ on a round's new points, logged every round, needs two of them.
        if (TopK < 2) throw new UserError($"top_k {TopK}: at least 2 (each round's rank agreement needs two new points)");
        if (Patience < 1) throw new UserError($"patience {Patience}: at least 1");
        if (Fresh < 0) throw new UserError($"fresh {Fresh}: must not be negative");
        if (ScreenWindows < 0) throw new UserError($"screen_windows {ScreenWindows}: must not be negative (0 = no screening)");
        if (Screens && Screen < TopK) throw new UserError($"screen {Screen}: at least top_k ({TopK}); the best screens are confirmed");
        if (Ensemble < 1) throw new UserError($"ensemble {Ensemble}: at least 1");
        if (!(Kappa >= 0)) throw new UserError($"kappa {Kappa}: must not be negative");
    }
}
