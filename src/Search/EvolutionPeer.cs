using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>What <see cref="EvolutionPeer.Run"/> found: the final parent, its full objective, every fitness call in order, and the cost.</summary>
/// <param name="Best">The last parent: the best architecture confirmed on the full windows.</param>
/// <param name="BestObjective">Its full-windows objective.</param>
/// <param name="Trace">Every fitness call, in the order made (screens and full evaluations).</param>
/// <param name="SpentWindows">Window-evaluations spent: the sum of the trace's windows, never above the budget.</param>
public sealed record EvolutionPeerResult(Architecture Best, double BestObjective, IReadOnlyList<RealEvaluation> Trace, long SpentWindows);

/// <summary>
/// A predictor-free peer of the predictor-guided search, after EvoPress (Sieberling et al., 2024): a (1+λ) evolution
/// on real evaluations only, with multi-step selection so that most offspring cost a cheap screen. Each generation
/// breeds λ offspring from the parent by moving budget between layers on the grid (one gene a grid step up, another
/// a step down, or now and then a single step, 1..MaxMoves times, then <see cref="SearchGrid.Repair(int[], Random)"/> onto the band), screens them
/// on the first <see cref="EvolutionPeerOptions.ScreenWindows"/> windows, confirms the best
/// <see cref="EvolutionPeerOptions.Survivors"/> on the full windows, and lets the best confirmed one replace the
/// parent only when its full objective is lower (screens are noisy; only full evaluations decide).
/// </summary>
/// <remarks>
/// Cost is counted in window-evaluations (a call on w windows costs w) and never exceeds the budget: every call is
/// checked first. Screening keeps room for one confirmation, so a generation cut short by the budget still confirms
/// its best screened offspring (as many as the rest allows, best first) instead of wasting its screens.
/// Deterministic for a seed and a deterministic fitness: one <see cref="Random"/>, calls in a fixed order, ties
/// broken by breeding order. The caller may memoise by (architecture id, windows) and replay after a crash; a
/// genome is never bred twice, so no (architecture, windows) pair is asked twice either.
/// </remarks>
public sealed class EvolutionPeer(PruningSpace space)
{
    /// <param name="o">Settings (validated first).</param>
    /// <param name="band">Kept parameter share every architecture the fitness sees lies in.</param>
    /// <param name="start">The first parent (e.g. the uniform architecture in the band); brought onto the grid and into the band if needed.</param>
    /// <param name="fitness">
    /// Objective of an architecture on the first <c>windows</c> validation windows, lower is better; NaN counts as
    /// worst. A call costs <c>windows</c> window-evaluations.
    /// </param>
    /// <param name="bounds">Per-layer keep-ratio bounds (default: the full space).</param>
    public EvolutionPeerResult Run(EvolutionPeerOptions o, BudgetBand band, Architecture start, Func<Architecture, int, double> fitness,
        LayerBounds? bounds = null)
    {
        o.Validate();
        var grid = new SearchGrid(space, bounds ?? LayerBounds.Full(space.LayerCount), band);
        var random = new Random(unchecked((int)o.Seed));
        var trace = new List<RealEvaluation>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long spent = 0;

        bool Affordable(long windows) => spent + windows <= o.BudgetWindows;
        double Evaluate(int[] genome, int windows)
        {
            var a = grid.ToArchitecture(genome);
            double v = fitness(a, windows);
            if (double.IsNaN(v)) v = double.PositiveInfinity;
            spent += windows;
            trace.Add(new RealEvaluation(trace.Count, a.Id, windows, v, windows == o.FullWindows));
            return v;
        }

        var parent = grid.EncodeClamped(start);
        grid.Repair(parent, random);
        seen.Add(SearchGrid.Key(parent));
        double parentObjective = Evaluate(parent, o.FullWindows); // affordable: Validate checks budget ≥ full windows

        // A screen on the full windows is already a confirmation: then survivors are not measured again.
        bool screenIsFull = o.ScreenWindows == o.FullWindows;
        // A generation needs one screen and one confirmation; screening stops where that no longer fits.
        long generationFloor = o.ScreenWindows + (screenIsFull ? 0 : o.FullWindows);
        while (Affordable(generationFloor))
        {
            var offspring = Breed(o, grid, parent, seen, random);
            if (offspring.Count == 0) break; // every reachable neighbour has been seen: nothing left to try

            var screened = new List<(int[] Genome, double Objective)>();
            foreach (var child in offspring)
            {
                if (!Affordable(generationFloor)) break; // keep room for one confirmation
                screened.Add((child, Evaluate(child, o.ScreenWindows)));
            }

            // OrderBy is stable: ties keep breeding order.
            int[]? bestChild = null;
            double bestObjective = double.PositiveInfinity;
            foreach (var (genome, objective) in screened.OrderBy(s => s.Objective).Take(o.Survivors))
            {
                double full = objective;
                if (!screenIsFull)
                {
                    if (!Affordable(o.FullWindows)) break;
                    full = Evaluate(genome, o.FullWindows);
                }
                if (full < bestObjective) (bestChild, bestObjective) = (genome, full);
            }
            if (bestChild is not null && bestObjective < parentObjective) (parent, parentObjective) = (bestChild, bestObjective);
        }
        return new EvolutionPeerResult(grid.ToArchitecture(parent), parentObjective, trace, spent);
    }

    /// <summary>Up to λ distinct, never-seen offspring of the parent (each marked seen); fewer when retries run out.</summary>
    static List<int[]> Breed(EvolutionPeerOptions o, SearchGrid grid, int[] parent, HashSet<string> seen, Random random)
    {
        var offspring = new List<int[]>(o.Offspring);
        for (int k = 0; k < o.Offspring; k++)
            for (int attempt = 0; attempt <= o.DuplicateRetries; attempt++)
            {
                var child = (int[])parent.Clone();
                int moves = random.Next(1, o.MaxMoves + 1);
                for (int m = 0; m < moves; m++) Move(child, grid, o.SingleStepRate, random);
                grid.Repair(child, random);
                if (!seen.Add(SearchGrid.Key(child))) continue;
                offspring.Add(child);
                break;
            }
        return offspring;
    }

    /// <summary>
    /// Moves budget between two genes: one a grid step up, another a step down, both inside their allowed ranges
    /// (the kept share changes by the difference of the two steps; repair takes it back into the band). With
    /// probability <see cref="EvolutionPeerOptions.SingleStepRate"/> the move is one step of one gene instead:
    /// grid steps differ in parameters (a head group is worth several FFN steps), so pure exchanges, which keep the
    /// number of steps, could never reach an in-band architecture with one step more or fewer.
    /// No move when no allowed step exists.
    /// </summary>
    static void Move(int[] genome, SearchGrid grid, double singleStepRate, Random random)
    {
        var ups = new List<int>();
        var downs = new List<int>();
        for (int g = 0; g < genome.Length; g++)
        {
            if (genome[g] < grid.Hi(g)) ups.Add(g);
            if (genome[g] > grid.Lo(g)) downs.Add(g);
        }
        if (random.NextDouble() < singleStepRate)
        {
            bool goUp = random.Next(2) == 0 ? ups.Count > 0 : downs.Count == 0;
            var from = goUp ? ups : downs;
            if (from.Count > 0) genome[from[random.Next(from.Count)]] += goUp ? 1 : -1;
            return;
        }
        if (ups.Count == 0) return;
        int up = ups[random.Next(ups.Count)];
        downs.Remove(up);
        if (downs.Count == 0) return;
        int down = downs[random.Next(downs.Count)];
        genome[up]++;
        genome[down]--;
    }
}
