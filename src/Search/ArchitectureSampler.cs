using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>How candidates are drawn (defaults: the pairs stage's).</summary>
public sealed record SamplerOptions(BudgetBand Band, int Count, long Seed = 1234, LayerBounds? Bounds = null, int MaxAttemptsPerCandidate = 50,
    BudgetMetric Metric = BudgetMetric.Params);

/// <summary>
/// Draws distinct sub-architectures whose kept parameter share lies in a budget band: a target share uniform in
/// the band, per-layer head and FFN keep ratios uniform within the layer bounds, projected onto the target (one
/// scale factor for all ratios, snapped down to the grid), kept only if the result is inside the band and the
/// bounds and not seen before. The uniform architectures projected onto the band's upper edge and middle come
/// first, as anchors (projection fills a target from below, so the lower edge's would fall outside the band).
/// Deterministic for a seed.
/// </summary>
public sealed class ArchitectureSampler(PruningSpace space)
{
    public IReadOnlyList<Architecture> Sample(SamplerOptions o)
    {
        o.Band.Validate();
        if (o.Count <= 0) throw new UserError($"sample count {o.Count}: must be positive");
        var config = space.Base;
        var bounds = o.Bounds ?? LayerBounds.Full(space.LayerCount);
        bounds.Validate(space.LayerCount);
        var random = new Random(unchecked((int)o.Seed));
        var seen = new HashSet<string>();
        var result = new List<Architecture>();

        bool Accept(Architecture a)
        {
            if (!o.Band.Contains(KeptShare(a, o.Metric)) || !bounds.Contains(a, config, space) || !seen.Add(a.Id)) return false;
            result.Add(a);
            return true;
        }

        foreach (double kept in new[] { o.Band.MaxKept, (o.Band.MinKept + o.Band.MaxKept) / 2 }.Distinct())
        {
            if (result.Count >= o.Count) break;
            Accept(UniformKeeping(kept, bounds, o.Metric));
        }
        for (int attempts = 0; result.Count < o.Count && attempts < o.Count * o.MaxAttemptsPerCandidate; attempts++)
        {
            double kept = o.Band.MinKept + (o.Band.MaxKept - o.Band.MinKept) * random.NextDouble();
            var heads = Enumerable.Range(0, space.LayerCount).Select(i => Draw(random, bounds.HeadMin[i], bounds.HeadMax[i])).ToArray();
            var ffn = Enumerable.Range(0, space.LayerCount).Select(i => Draw(random, bounds.FfnMin[i], bounds.FfnMax[i])).ToArray();
            Accept(Project(heads, ffn, kept, o.Metric));
        }
        return result;
    }

    /// <summary>The kept share of the base model's parameters or of its forward FLOPs per token (at the context length).</summary>
    public double KeptShare(Architecture a, BudgetMetric metric) => metric == BudgetMetric.Params
        ? a.ParamRatio(space.Base)
        : a.ForwardFlopsPerToken(space.Base, SeqLen) / space.Base.ForwardFlopsPerToken(SeqLen);

    int SeqLen => space.Base.MaxPositionEmbeddings;

    long Target(double kept) => (long)Math.Floor(kept * space.Base.TotalParams);

    /// <summary>
    /// Projection onto a kept share. Projection fills a parameter target; for a FLOP share the parameter target is
    /// corrected a few times by the FLOP share it produced (FLOPs and parameters of a layer move together, the
    /// embeddings and attention's sequence term do not, so the ratio between them drifts slightly with the shape).
    /// </summary>
    Architecture Project(double[] heads, double[] ffn, double kept, BudgetMetric metric)
    {
        var a = space.Project(heads, ffn, Target(kept));
        if (metric == BudgetMetric.Params) return a;
        double paramShare = kept;
        for (int i = 0; i < 4; i++)
        {
            double flops = KeptShare(a, BudgetMetric.Flops);
            if (flops <= 0 || Math.Abs(flops - kept) < 1e-3) break;
            paramShare = Math.Clamp(paramShare * kept / flops, 1e-3, 1 - 1e-9);
            a = space.Project(heads, ffn, Target(paramShare));
        }
        return a;
    }

    /// <summary>The same ratio in every layer projected onto a kept share; within bounds, the bounds' upper edges scaled.</summary>
    Architecture UniformKeeping(double kept, LayerBounds bounds, BudgetMetric metric)
    {
        var ones = Enumerable.Repeat(1.0, space.LayerCount).ToArray();
        var uniform = Project(ones, ones, kept, metric);
        return bounds.Contains(uniform, space.Base, space) ? uniform
            : Project(bounds.HeadMax, bounds.FfnMax, kept, metric);
    }

    static double Draw(Random random, double min, double max) => min + (max - min) * random.NextDouble();
}
