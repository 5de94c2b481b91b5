using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// Per-layer bounds on keep ratios (heads and FFN channels), the "shrunken space" the search hands back to the
/// sampler. The full space is [0, 1] everywhere.
/// </summary>
public sealed record LayerBounds(double[] HeadMin, double[] HeadMax, double[] FfnMin, double[] FfnMax)
{
    public static LayerBounds Full(int layers) => new(new double[layers], Enumerable.Repeat(1.0, layers).ToArray(),
        new double[layers], Enumerable.Repeat(1.0, layers).ToArray());

    public void Validate(int layers)
    {
        if (new[] { HeadMin, HeadMax, FfnMin, FfnMax }.Any(a => a.Length != layers))
            throw new UserError($"layer bounds: every bound needs {layers} entries, one per layer");
        for (int i = 0; i < layers; i++)
            if (!(0 <= HeadMin[i] && HeadMin[i] <= HeadMax[i] && HeadMax[i] <= 1 && 0 <= FfnMin[i] && FfnMin[i] <= FfnMax[i] && FfnMax[i] <= 1))
                throw new UserError($"layer bounds: layer {i} needs 0 ≤ min ≤ max ≤ 1 for heads and FFN");
    }

    /// <summary>True when every kept layer's ratios lie inside the bounds (with half a grid step of slack for snapping).</summary>
    public bool Contains(Architecture a, ModelConfig config, PruningSpace space)
    {
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var stored = config.Layers[i];
            double head = a.HeadRatio(i, config), ffn = a.FfnRatio(i, config);
            double headStep = (double)config.GroupSize / stored.Heads, ffnStep = 1.0 / space.Granularity.FfnSteps;
            if (head < HeadMin[i] - headStep || head > HeadMax[i] + 1e-9 || ffn < FfnMin[i] - ffnStep || ffn > FfnMax[i] + 1e-9) return false;
        }
        return true;
    }
}
