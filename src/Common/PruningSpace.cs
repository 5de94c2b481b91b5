namespace NasPrune.Common;

/// <summary>
/// How finely the space is cut: FFN widths in steps of 1/<see cref="FfnSteps"/> of the layer's width, attention in
/// whole GQA groups (whole heads without GQA). A discrete space lets a search enumerate neighbours.
/// </summary>
public sealed record Granularity(int FfnSteps = 16)
{
    public void Validate()
    {
        if (FfnSteps < 1) throw new UserError($"FFN granularity {FfnSteps}: must be at least 1 step");
    }
}

/// <summary>
/// The discrete space of sub-architectures of one base model, and the budget arithmetic every stage shares:
/// the grid of kept heads / FFN channels per layer, projection of continuous keep ratios onto a parameter
/// budget, and the uniform and random baselines. A budget is the share of the base model's parameters removed
/// (embeddings included in the total, as the papers count parameters).
/// </summary>
public sealed class PruningSpace
{
    public ModelConfig Base { get; }
    public string BaseHash { get; }
    public Granularity Granularity { get; }
    readonly int[][] headChoices;
    readonly int[][] ffnChoices;

    public PruningSpace(ModelConfig baseConfig, string baseHash, Granularity? granularity = null)
    {
        Base = baseConfig;
        BaseHash = baseHash;
        Granularity = granularity ?? new Granularity();
        Granularity.Validate();
        headChoices = baseConfig.Layers.Select(l => Enumerable.Range(0, l.Heads / baseConfig.GroupSize + 1)
            .Select(g => g * baseConfig.GroupSize).ToArray()).ToArray();
        ffnChoices = baseConfig.Layers.Select(l => Enumerable.Range(0, Granularity.FfnSteps + 1)
            .Select(k => (int)Math.Round((double)k * l.Ffn / Granularity.FfnSteps)).Distinct().ToArray()).ToArray();
    }

    public int LayerCount => Base.NumHiddenLayers;

    /// <summary>Allowed kept query-head counts of a layer, ascending (0 = attention removed).</summary>
    public IReadOnlyList<int> HeadChoices(int layer) => headChoices[layer];

    /// <summary>Allowed kept FFN widths of a layer, ascending (0 = MLP removed).</summary>
    public IReadOnlyList<int> FfnChoices(int layer) => ffnChoices[layer];

    public Architecture Full => Architecture.Full(Base, BaseHash);

    /// <summary>The parameter count a budget allows: (1 − removed) × the base model's.</summary>
    public long TargetParams(double removeFraction)
    {
        if (!(removeFraction > 0 && removeFraction < 1))
            throw new UserError($"budget {removeFraction}: the share of parameters to remove must be inside (0, 1)");
        long layerParams = Base.Layers.Sum(Base.LayerParams);
        long target = (long)Math.Floor((1 - removeFraction) * Base.TotalParams);
        if (target < Base.TotalParams - layerParams)
            throw new UserError($"budget {removeFraction}: removes more than all decoder layers hold ({(double)layerParams / Base.TotalParams:P1} of the parameters)");
        return target;
    }

    /// <summary>True when the architecture lies on this space's grid.</summary>
    public bool OnGrid(Architecture a) => a.Layers.Select((l, i) => !l.Keep || (headChoices[i].Contains(l.Heads) && ffnChoices[i].Contains(l.Ffn))).All(x => x);

    /// <summary>Snaps per-layer keep ratios down onto the grid (a ratio of 1 keeps the layer's full width).</summary>
    public Architecture Snap(IReadOnlyList<double> headRatios, IReadOnlyList<double> ffnRatios, IReadOnlyList<bool>? keep = null)
    {
        var layers = new LayerKeep[LayerCount];
        for (int i = 0; i < LayerCount; i++)
        {
            if (keep is not null && !keep[i]) { layers[i] = LayerKeep.Dropped; continue; }
            var stored = Base.Layers[i];
            int heads = FloorChoice(headChoices[i], Math.Clamp(headRatios[i], 0, 1) * stored.Heads);
            int ffn = FloorChoice(ffnChoices[i], Math.Clamp(ffnRatios[i], 0, 1) * stored.Ffn);
            layers[i] = new LayerKeep(stored.Keep, heads, ffn);
        }
        return new Architecture(BaseHash, layers);
    }

    static int FloorChoice(int[] choices, double value)
    {
        int best = choices[0];
        foreach (int c in choices) if (c <= value + 1e-9) best = c;
        return best;
    }

    /// <summary>
    /// Projects per-layer keep ratios onto the budget: scales all ratios by one factor α (clamped to [0, 1] per
    /// layer, snapped down to the grid) and takes the largest α whose architecture fits within the target, so the
    /// ratios' shape across layers is kept and the budget is met from below, within one grid step.
    /// </summary>
    public Architecture Project(IReadOnlyList<double> headRatios, IReadOnlyList<double> ffnRatios, long targetParams,
        IReadOnlyList<bool>? keep = null)
    {
        double maxRatio = headRatios.Concat(ffnRatios).Where(r => r > 0).DefaultIfEmpty(1).Min();
        double lo = 0, hi = 1 / maxRatio + 1e-9;
        Architecture Scaled(double alpha) => Snap(headRatios.Select(r => r * alpha).ToArray(), ffnRatios.Select(r => r * alpha).ToArray(), keep);
        if (Scaled(hi).Params(Base) <= targetParams) return Scaled(hi);
        for (int iteration = 0; iteration < 60; iteration++)
        {
            double mid = (lo + hi) / 2;
            if (Scaled(mid).Params(Base) <= targetParams) lo = mid; else hi = mid;
        }
        return Scaled(lo);
    }

    /// <summary>
    /// The uniform baseline (LLM-Pruner's and FLAP's default): one keep ratio for every layer's heads and FFN
    /// channels, snapped down to the grid, the largest that fits the budget.
    /// </summary>
    public Architecture Uniform(double removeFraction)
    {
        var ones = Enumerable.Repeat(1.0, LayerCount).ToArray();
        return Project(ones, ones, TargetParams(removeFraction));
    }

    /// <summary>
    /// The random baseline: per-layer head and FFN keep ratios drawn uniformly from [<paramref name="minRatio"/>, 1],
    /// projected onto the budget. Deterministic for the generator's seed.
    /// </summary>
    public Architecture Random(double removeFraction, Random rng, double minRatio = 0.2)
    {
        long target = TargetParams(removeFraction);
        var heads = Enumerable.Range(0, LayerCount).Select(_ => minRatio + (1 - minRatio) * rng.NextDouble()).ToArray();
        var ffn = Enumerable.Range(0, LayerCount).Select(_ => minRatio + (1 - minRatio) * rng.NextDouble()).ToArray();
        return Project(heads, ffn, target);
    }
}
