using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// Settings of <see cref="SpaceShrinker"/>.
/// </summary>
/// <param name="Rounds">Shrinking rounds (each: sample, predict, narrow).</param>
/// <param name="SampleSize">Architectures sampled and predicted per round.</param>
/// <param name="TopQuantile">Share of a round's sample, best predicted first, whose distribution sets the new bounds.</param>
/// <param name="MinTop">The top set has at least this many architectures (small samples).</param>
/// <param name="TailShare">
/// Share of the top set ignored at each end of a layer's ratio distribution (0 = its min and max), so one
/// outlier among the best does not hold a layer's range open.
/// </param>
/// <param name="MarginSteps">Grid steps added on each side of the kept range (a head group or 1/FfnSteps of the FFN).</param>
/// <param name="Seed">Round r samples with seed <c>Seed + r</c>.</param>
public sealed record ShrinkOptions(
    int Rounds = 3,
    int SampleSize = 2000,
    double TopQuantile = 0.1,
    int MinTop = 10,
    double TailShare = 0.05,
    int MarginSteps = 1,
    long Seed = 1234)
{
    public void Validate()
    {
        if (Rounds < 1) throw new UserError($"shrink rounds {Rounds}: must be at least 1");
        if (SampleSize < 2) throw new UserError($"shrink sample size {SampleSize}: must be at least 2");
        if (!(TopQuantile > 0 && TopQuantile <= 1)) throw new UserError($"shrink top quantile {TopQuantile}: must be in (0, 1]");
        if (MinTop < 1) throw new UserError($"shrink minimum top set {MinTop}: must be at least 1");
        if (!(TailShare >= 0 && TailShare < 0.5)) throw new UserError($"shrink tail share {TailShare}: must be in [0, 0.5)");
        if (MarginSteps < 0) throw new UserError($"shrink margin {MarginSteps} grid steps: must not be negative");
    }
}

/// <summary>
/// One shrinking round: the bounds it sampled inside (<see cref="Input"/>) and their volume, how many
/// architectures it predicted, the best of them, the score at the edge of the top set, and the bounds it hands to
/// the next round (<see cref="Output"/>) with their volume. Volumes are <see cref="SearchGrid.Log10Volume"/>:
/// log₁₀ of the number of grid points inside the bounds.
/// </summary>
public sealed record ShrinkRound(int Round, LayerBounds Input, double InputLog10Volume, int Sampled, double BestPredicted,
    Architecture BestArchitecture, double TopThreshold, LayerBounds Output, double OutputLog10Volume)
{
    /// <summary>The round as the search writes it to <c>search/round-&lt;r&gt;.json</c>; its bounds load with <see cref="LayerBoundsJson"/>.</summary>
    public JsonObject ToJson()
    {
        var o = LayerBoundsJson.ToJson(Output);
        o["round"] = Round;
        o["input_log10_volume"] = InputLog10Volume;
        o["log10_volume"] = OutputLog10Volume;
        o["sampled"] = Sampled;
        o["best_predicted"] = BestPredicted;
        o["top_threshold"] = TopThreshold;
        o["best_architecture"] = BestArchitecture.ToJson();
        o["input"] = LayerBoundsJson.ToJson(Input);
        return o;
    }
}

/// <summary>The final bounds, every round's figures, and the best predicted architecture over all rounds.</summary>
public sealed record ShrinkResult(LayerBounds Bounds, IReadOnlyList<ShrinkRound> Rounds, ScoredArchitecture Best);

/// <summary>
/// Narrows the per-layer keep-ratio ranges to where a predictor expects good architectures: each round samples
/// inside the current bounds and the band (<see cref="ArchitectureSampler"/>), predicts the sample in one batch,
/// takes the best <see cref="ShrinkOptions.TopQuantile"/>, and sets each layer's head and FFN range to the
/// (tail-trimmed) range of its ratios there plus a margin of grid steps, never beyond the current bounds. Then
/// it widens the bounds just enough to contain the round's best predicted architecture (so the band stays
/// reachable) and every must-keep architecture (e.g. the best measured one, so shrinking can never exclude it).
/// Deterministic for a seed.
/// </summary>
public sealed class SpaceShrinker(PruningSpace space)
{
    /// <param name="o">Shrinking settings.</param>
    /// <param name="start">Bounds of the first round (e.g. <see cref="LayerBounds.Full"/>); widened to hold <paramref name="mustKeep"/>.</param>
    /// <param name="band">Kept parameter share of every sampled architecture.</param>
    /// <param name="fitness">Predicted metric per architecture, lower is better, for a batch at once; NaN counts as worst.</param>
    /// <param name="mustKeep">Architectures every round's bounds contain (by <see cref="LayerBounds.Contains"/>).</param>
    public ShrinkResult Shrink(ShrinkOptions o, LayerBounds start, BudgetBand band,
        Func<IReadOnlyList<Architecture>, double[]> fitness, IReadOnlyList<Architecture> mustKeep)
    {
        o.Validate();
        band.Validate();
        start.Validate(space.LayerCount);
        foreach (var a in mustKeep) a.Validate(space.Base, "must-keep architecture");
        var bounds = Widen(start, mustKeep);
        var rounds = new List<ShrinkRound>();
        ScoredArchitecture? best = null;
        for (int round = 0; round < o.Rounds; round++)
        {
            var grid = new SearchGrid(space, bounds, band); // also checks the band is reachable inside the bounds
            // The sampler's bounds test allows one grid step of slack below a minimum; keeping only the samples
            // strictly inside makes every round's output bounds lie inside its input (plus the must-keep ones).
            var sample = new ArchitectureSampler(space).Sample(new SamplerOptions(band, o.SampleSize, o.Seed + round, bounds,
                MaxAttemptsPerCandidate: SamplerAttempts)).Where(grid.Contains).ToList();
            TopUp(sample, grid, o.SampleSize, new Random(unchecked((int)(o.Seed + round))));
            if (sample.Count == 0) throw new UserError($"shrink round {round}: no architecture found inside the bounds and the band");
            var predicted = fitness(sample);
            if (predicted.Length != sample.Count)
                throw new InvalidOperationException($"fitness returned {predicted.Length} scores for {sample.Count} architectures");
            // Best first; ties keep sample order (the sample's order is deterministic).
            var order = Enumerable.Range(0, sample.Count).Select(k => (Index: k, Score: double.IsNaN(predicted[k]) ? double.PositiveInfinity : predicted[k]))
                .OrderBy(x => x.Score).ThenBy(x => x.Index).ToArray();
            int topCount = Math.Min(sample.Count, Math.Max(o.MinTop, (int)Math.Ceiling(o.TopQuantile * sample.Count)));
            var top = order.Take(topCount).Select(x => sample[x.Index]).ToArray();
            var roundBest = new ScoredArchitecture(sample[order[0].Index], order[0].Score);
            if (best is null || roundBest.Score < best.Score) best = roundBest;

            var next = Widen(Narrow(bounds, top, o), [roundBest.Architecture, .. mustKeep]);
            rounds.Add(new ShrinkRound(round, bounds, grid.Log10Volume, sample.Count, roundBest.Score, roundBest.Architecture,
                order[topCount - 1].Score, next, new SearchGrid(space, next, band).Log10Volume));
            bounds = next;
        }
        return new ShrinkResult(bounds, rounds, best!);
    }

    /// <summary>
    /// The sampler scales all ratios by one factor onto the budget, which in narrow bounds mostly lands outside
    /// them; a few attempts per candidate, then the rest is drawn on the grid (uniform per gene, repaired).
    /// </summary>
    internal const int SamplerAttempts = 5;

    /// <summary>Adds distinct random grid architectures until the sample has <paramref name="count"/> (or the space runs dry).</summary>
    internal static void TopUp(List<Architecture> sample, SearchGrid grid, int count, Random random)
    {
        if (sample.Count >= count) return;
        var present = new HashSet<Architecture>(sample);
        for (int attempt = 0; sample.Count < count && attempt < 20 * count; attempt++)
        {
            var a = grid.ToArchitecture(grid.RandomGenome(random));
            if (present.Add(a)) sample.Add(a);
        }
    }

    /// <summary>Each layer's range: the trimmed range of the top set's ratios ± the margin, inside the current bounds.</summary>
    LayerBounds Narrow(LayerBounds current, IReadOnlyList<Architecture> top, ShrinkOptions o)
    {
        var config = space.Base;
        int n = space.LayerCount;
        double[] headMin = new double[n], headMax = new double[n], ffnMin = new double[n], ffnMax = new double[n];
        for (int i = 0; i < n; i++)
        {
            var stored = config.Layers[i];
            double headStep = stored.Heads > 0 ? (double)config.GroupSize / stored.Heads : 1, ffnStep = 1.0 / space.Granularity.FfnSteps;
            var heads = top.Select(a => a.HeadRatio(i, space.Base)).Order().ToArray();
            var ffn = top.Select(a => a.FfnRatio(i, space.Base)).Order().ToArray();
            (headMin[i], headMax[i]) = Range(heads, current.HeadMin[i], current.HeadMax[i], o.MarginSteps * headStep, o.TailShare);
            (ffnMin[i], ffnMax[i]) = Range(ffn, current.FfnMin[i], current.FfnMax[i], o.MarginSteps * ffnStep, o.TailShare);
        }
        return new LayerBounds(headMin, headMax, ffnMin, ffnMax);
    }

    static (double Min, double Max) Range(double[] sorted, double currentMin, double currentMax, double margin, double tail)
    {
        int cut = (int)Math.Floor(tail * sorted.Length);
        double lo = sorted[cut] - margin, hi = sorted[sorted.Length - 1 - cut] + margin;
        lo = Math.Clamp(lo, currentMin, currentMax);
        hi = Math.Clamp(hi, currentMin, currentMax);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>The smallest widening of the bounds that contains every given architecture exactly.</summary>
    LayerBounds Widen(LayerBounds b, IReadOnlyList<Architecture> keep)
    {
        var headMin = (double[])b.HeadMin.Clone(); var headMax = (double[])b.HeadMax.Clone();
        var ffnMin = (double[])b.FfnMin.Clone(); var ffnMax = (double[])b.FfnMax.Clone();
        foreach (var a in keep)
            for (int i = 0; i < space.LayerCount; i++)
            {
                double h = a.HeadRatio(i, space.Base), f = a.FfnRatio(i, space.Base);
                headMin[i] = Math.Min(headMin[i], h); headMax[i] = Math.Max(headMax[i], h);
                ffnMin[i] = Math.Min(ffnMin[i], f); ffnMax[i] = Math.Max(ffnMax[i], f);
            }
        return new LayerBounds(headMin, headMax, ffnMin, ffnMax);
    }
}
