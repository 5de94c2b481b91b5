using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>The share of the base model's parameters a sampled architecture keeps, e.g. 0.75–0.85.</summary>
public sealed record BudgetBand(double MinKept, double MaxKept)
{
    public void Validate()
    {
        if (!(MinKept > 0 && MaxKept < 1 && MinKept <= MaxKept))
            throw new UserError($"budget band {MinKept}–{MaxKept}: the kept share must satisfy 0 < min ≤ max < 1");
    }

    public bool Contains(double kept) => kept >= MinKept - 1e-12 && kept <= MaxKept + 1e-12;
}
