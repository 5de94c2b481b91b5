using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// Settings of <see cref="AdaptiveAllocation"/>.
/// </summary>
/// <param name="Strength">
/// Keep-ratio shift per standard deviation of layer importance: a layer one σ above the mean keeps
/// <c>Strength</c> more of its width than the common base ratio. 0.1 is about OWL's outlier-ratio range
/// (λ = 0.08 around the uniform sparsity); 0 gives the uniform allocation.
/// </param>
/// <param name="MinRatio">Lowest keep ratio a layer is allowed before snapping (so no layer is emptied by its score alone).</param>
public sealed record AdaptiveOptions(double Strength = 0.1, double MinRatio = 0.1)
{
    public void Validate()
    {
        if (!(Strength >= 0 && double.IsFinite(Strength))) throw new UserError($"adaptive allocation strength {Strength}: must be finite and ≥ 0");
        if (!(MinRatio >= 0 && MinRatio < 1)) throw new UserError($"adaptive allocation min ratio {MinRatio}: must be in [0, 1)");
    }
}

/// <summary>
/// A zero-evaluation peer after OWL (Yin et al., 2024) and FLAP (An et al., 2024): layers whose weights matter more
/// keep more of their width. Per layer and per kind (attention heads, FFN channels), the layer's importance is the
/// mean absolute score of its heads (channels); the scores are standardised across layers (z-scores, all zero when
/// every layer scores the same) and each layer keeps the ratio r = clamp(base + Strength·z, MinRatio, 1), snapped
/// down to the grid. One common base ratio, found by bisection, fills the band's upper edge from below (as
/// <see cref="PruningSpace.Project"/> does), so Strength = 0 is exactly the uniform projection.
/// </summary>
/// <remarks>
/// Standardising per kind keeps attention and FFN scores, which criteria put on different scales, from trading
/// against each other; the shift is additive in ratio (not multiplicative) so that a low-importance layer is not
/// driven to zero just because the base ratio is small. Deterministic: no random draw, except a seeded repair
/// when the grid is too coarse for the band's width at the found base.
/// </remarks>
public static class AdaptiveAllocation
{
    /// <summary>The adaptive architecture: on the grid, in the band.</summary>
    public static Architecture Allocate(PruningSpace space, ImportanceProfile profile, BudgetBand band, AdaptiveOptions? options = null)
    {
        var o = options ?? new AdaptiveOptions();
        o.Validate();
        band.Validate();
        var (headScores, ffnScores) = LayerScores(space, profile);
        double[] headZ = ZScores(headScores), ffnZ = ZScores(ffnScores);
        var grid = new SearchGrid(space, LayerBounds.Full(space.LayerCount), band);
        long target = (long)Math.Floor(band.MaxKept * space.Base.TotalParams);

        Architecture At(double baseRatio) => space.Snap(Ratios(headZ, baseRatio, o), Ratios(ffnZ, baseRatio, o));

        // Every ratio is non-decreasing in the base, so is the kept count: bisect for the largest base under the target.
        double shift = o.Strength * headZ.Concat(ffnZ).Select(Math.Abs).DefaultIfEmpty(0).Max();
        double lo = -shift - 1, hi = 1 + shift + 1e-9; // at lo every ratio is MinRatio, at hi every ratio is 1
        if (At(lo).Params(space.Base) > target)
            throw new UserError($"adaptive allocation: keeping the min ratio {o.MinRatio} in every layer already exceeds the budget band's " +
                $"upper edge {band.MaxKept:P2}; lower the min ratio");
        for (int iteration = 0; iteration < 60; iteration++)
        {
            double mid = (lo + hi) / 2;
            if (At(mid).Params(space.Base) <= target) lo = mid; else hi = mid;
        }
        var result = At(lo);
        // The band is narrower than a grid step here: take the few steps into it (fixed seed: deterministic).
        return grid.Contains(result) ? result : grid.Repair(result, new Random(0));
    }

    /// <summary>Per layer: the mean absolute head score and the mean absolute FFN-channel score (0 for a layer without any).</summary>
    public static (double[] Heads, double[] Ffn) LayerScores(PruningSpace space, ImportanceProfile profile)
    {
        int n = space.LayerCount;
        if (profile.Heads.Length != n || profile.Channels.Length != n)
            throw new UserError($"importance profile ({profile.Criterion}) has {profile.Heads.Length} head and {profile.Channels.Length} channel " +
                $"score layers; the model has {n} layers");
        static double MeanAbs(double[] s) => s.Length == 0 ? 0 : s.Average(Math.Abs);
        return (profile.Heads.Select(MeanAbs).ToArray(), profile.Channels.Select(MeanAbs).ToArray());
    }

    /// <summary>(x − mean) / std over the values (population std); all zero when the std is 0 or not finite.</summary>
    public static double[] ZScores(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return [];
        double mean = values.Average();
        double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        if (!(std > 1e-12 * Math.Max(1, Math.Abs(mean))) || !double.IsFinite(std)) return new double[values.Count];
        return values.Select(v => (v - mean) / std).ToArray();
    }

    static double[] Ratios(double[] z, double baseRatio, AdaptiveOptions o) =>
        z.Select(v => Math.Clamp(baseRatio + o.Strength * v, o.MinRatio, 1)).ToArray();
}
