using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// The part of a <see cref="PruningSpace"/> a search may visit: per layer, the contiguous range of head and FFN
/// grid choices that lies inside a <see cref="LayerBounds"/>, and the parameter window of a <see cref="BudgetBand"/>.
/// Searches work on <em>genomes</em> — one grid index per gene, genes ordered [heads₀, ffn₀, heads₁, ffn₁, …] —
/// with per-gene parameter tables, so mutating, repairing and pricing a candidate costs a few array reads instead
/// of building a <see cref="ModelConfig"/>; <see cref="ToArchitecture"/> turns a genome back into an architecture.
/// </summary>
/// <remarks>
/// A layer's allowed choices are those whose keep ratio lies inside [min, max]; when the interval falls between
/// two grid points, the grid point just below max (which <see cref="LayerBounds.Contains"/> still accepts, as it
/// allows one grid step below min). So every genome is inside the bounds by <see cref="LayerBounds.Contains"/>,
/// and the band test is the one of <see cref="BudgetBand.Contains"/>, on the exact parameter count.
/// </remarks>
public sealed class SearchGrid
{
    public PruningSpace Space { get; }
    public LayerBounds Bounds { get; }
    public BudgetBand Band { get; }
    /// <summary>Two genes per layer: heads at 2i, FFN at 2i+1.</summary>
    public int GeneCount { get; }

    readonly int[][] choices;      // per gene: the kept count of each grid index (heads or FFN channels)
    readonly long[][] paramsOf;    // per gene: the parameters each grid index contributes
    readonly int[] lo, hi;         // per gene: allowed grid-index range inside the bounds
    readonly long fixedParams;     // embeddings and final norm: every architecture has them
    readonly double totalParams;

    public SearchGrid(PruningSpace space, LayerBounds bounds, BudgetBand band)
    {
        band.Validate();
        bounds.Validate(space.LayerCount);
        Space = space;
        Bounds = bounds;
        Band = band;
        var config = space.Base;
        int layers = space.LayerCount;
        GeneCount = 2 * layers;
        choices = new int[GeneCount][];
        paramsOf = new long[GeneCount][];
        lo = new int[GeneCount];
        hi = new int[GeneCount];
        fixedParams = config.EmbeddingParams;
        totalParams = config.TotalParams;
        for (int i = 0; i < layers; i++)
        {
            var stored = config.Layers[i];
            int group = config.GroupSize;
            choices[2 * i] = space.HeadChoices(i).ToArray();
            choices[2 * i + 1] = space.FfnChoices(i).ToArray();
            paramsOf[2 * i] = choices[2 * i].Select(h => stored.Keep ? config.AttentionParams(new LayerShape(true, h, h / group, 0)) : 0).ToArray();
            paramsOf[2 * i + 1] = choices[2 * i + 1].Select(f => stored.Keep ? config.MlpParams(new LayerShape(true, 0, 0, f)) : 0).ToArray();
            (lo[2 * i], hi[2 * i]) = AllowedRange(choices[2 * i], stored.Heads, bounds.HeadMin[i], bounds.HeadMax[i]);
            (lo[2 * i + 1], hi[2 * i + 1]) = AllowedRange(choices[2 * i + 1], stored.Ffn, bounds.FfnMin[i], bounds.FfnMax[i]);
        }
        long min = fixedParams, max = fixedParams;
        for (int g = 0; g < GeneCount; g++) { min += paramsOf[g][lo[g]]; max += paramsOf[g][hi[g]]; }
        if (max / totalParams < band.MinKept - 1e-12 || min / totalParams > band.MaxKept + 1e-12)
            throw new UserError($"layer bounds keep between {min / totalParams:P2} and {max / totalParams:P2} of the parameters, " +
                $"which misses the budget band {band.MinKept:P2}–{band.MaxKept:P2}: widen the bounds or move the band");
    }

    static (int Lo, int Hi) AllowedRange(int[] choices, int full, double min, double max)
    {
        if (full == 0) return (0, choices.Length - 1); // nothing stored: the single choice 0
        int first = -1, last = -1;
        for (int k = 0; k < choices.Length; k++)
        {
            double r = (double)choices[k] / full;
            if (r >= min - 1e-9 && r <= max + 1e-9) { if (first < 0) first = k; last = k; }
        }
        if (first >= 0) return (first, last);
        // The interval lies between two grid points: take the one just below max (one step below min at most).
        int below = 0;
        for (int k = 0; k < choices.Length; k++) if ((double)choices[k] / full <= max + 1e-9) below = k;
        return (below, below);
    }

    /// <summary>Lowest allowed grid index of a gene.</summary>
    public int Lo(int gene) => lo[gene];
    /// <summary>Highest allowed grid index of a gene.</summary>
    public int Hi(int gene) => hi[gene];

    /// <summary>
    /// Size of the bounded box: log₁₀ of the number of grid points inside the bounds (the product over layers of
    /// the allowed head choices × allowed FFN choices), regardless of the band. 0 means a single architecture; the
    /// full space of an 8-layer MHA model with 8 heads and 16 FFN steps has 8·log₁₀(9·17) ≈ 17.5.
    /// </summary>
    public double Log10Volume
    {
        get
        {
            double v = 0;
            for (int g = 0; g < GeneCount; g++) v += Math.Log10(hi[g] - lo[g] + 1);
            return v;
        }
    }

    public long Params(int[] genome)
    {
        long p = fixedParams;
        for (int g = 0; g < genome.Length; g++) p += paramsOf[g][genome[g]];
        return p;
    }

    public bool InBand(long parameters) => Band.Contains(parameters / totalParams);

    bool AboveBand(long parameters) => parameters / totalParams > Band.MaxKept + 1e-12;

    /// <summary>True when every gene is inside its allowed range and the kept share is in the band.</summary>
    public bool Contains(int[] genome)
    {
        for (int g = 0; g < GeneCount; g++) if (genome[g] < lo[g] || genome[g] > hi[g]) return false;
        return InBand(Params(genome));
    }

    /// <summary>True when the architecture lies on the grid, inside the allowed ranges and in the band.</summary>
    public bool Contains(Architecture a) => TryEncode(a, out var genome) && Contains(genome);

    public Architecture ToArchitecture(int[] genome)
    {
        var layers = new LayerKeep[Space.LayerCount];
        for (int i = 0; i < layers.Length; i++)
            layers[i] = new LayerKeep(Space.Base.Layers[i].Keep, choices[2 * i][genome[2 * i]], choices[2 * i + 1][genome[2 * i + 1]]);
        return new Architecture(Space.BaseHash, layers);
    }

    /// <summary>Exact grid indices of an on-grid architecture; false when a count is not a grid choice.</summary>
    public bool TryEncode(Architecture a, out int[] genome)
    {
        genome = new int[GeneCount];
        if (a.Layers.Count != Space.LayerCount) return false;
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var l = a.Layers[i];
            int h = Array.IndexOf(choices[2 * i], l.Keep ? l.Heads : 0), f = Array.IndexOf(choices[2 * i + 1], l.Keep ? l.Ffn : 0);
            if (h < 0 || f < 0) return false;
            genome[2 * i] = h;
            genome[2 * i + 1] = f;
        }
        return true;
    }

    /// <summary>
    /// Any architecture of the base model as a genome inside the bounds: counts snapped down to the grid, then
    /// clamped into each gene's allowed range (the band is <see cref="Repair"/>'s job).
    /// </summary>
    public int[] EncodeClamped(Architecture a)
    {
        a.Validate(Space.Base, "seed architecture");
        var genome = new int[GeneCount];
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var l = a.Layers[i];
            genome[2 * i] = Math.Clamp(FloorIndex(choices[2 * i], l.Keep ? l.Heads : 0), lo[2 * i], hi[2 * i]);
            genome[2 * i + 1] = Math.Clamp(FloorIndex(choices[2 * i + 1], l.Keep ? l.Ffn : 0), lo[2 * i + 1], hi[2 * i + 1]);
        }
        return genome;
    }

    static int FloorIndex(int[] choices, int count)
    {
        int best = 0;
        for (int k = 0; k < choices.Length; k++) if (choices[k] <= count) best = k;
        return best;
    }

    /// <summary>
    /// Repairs an architecture onto the band inside the bounds (see <see cref="Repair(int[], Random)"/>).
    /// </summary>
    public Architecture Repair(Architecture a, Random random)
    {
        var genome = EncodeClamped(a);
        Repair(genome, random);
        return ToArchitecture(genome);
    }

    /// <summary>
    /// Moves a genome (already inside the allowed ranges) into the budget band, in place, by single grid steps
    /// that stay inside the ranges: while outside, a step that lands in the band if one exists, else a random step
    /// towards the band (random, so repaired children keep their diversity instead of all shedding the same layer).
    /// When single steps keep jumping over a band narrower than a step, pairs of opposite steps are tried. Throws a
    /// <see cref="UserError"/> when no architecture reachable this way is in the band.
    /// </summary>
    public void Repair(int[] genome, Random random)
    {
        long p = Params(genome);
        if (InBand(p)) return;
        Span<int> moves = stackalloc int[GeneCount];
        int limit = 20 * GeneCount + 100;
        for (int step = 0; step < limit && !InBand(p); step++)
        {
            int direction = AboveBand(p) ? -1 : 1;
            int count = 0, landing = 0;
            for (int g = 0; g < GeneCount; g++)
            {
                int next = genome[g] + direction;
                if (next < lo[g] || next > hi[g]) continue;
                moves[count++] = g;
            }
            if (count == 0) break; // at the edge of the bounds: cannot move towards the band
            // Prefer steps that land in the band: moves[..landing] are those.
            for (int k = 0; k < count; k++)
            {
                int g = moves[k];
                if (InBand(p + paramsOf[g][genome[g] + direction] - paramsOf[g][genome[g]]))
                    (moves[landing], moves[k]) = (moves[k], moves[landing++]);
            }
            int chosen = moves[landing > 0 ? random.Next(landing) : random.Next(count)];
            p += paramsOf[chosen][genome[chosen] + direction] - paramsOf[chosen][genome[chosen]];
            genome[chosen] += direction;
        }
        if (InBand(p)) return;
        if (TryOppositePair(genome, ref p)) return;
        throw new UserError($"no architecture inside the layer bounds reaches the budget band {Band.MinKept:P2}–{Band.MaxKept:P2} " +
            $"(closest: {p / totalParams:P2}); the band is narrower than the grid allows there: widen the band or the bounds");
    }

    /// <summary>One step up on one gene and one down on another, the first pair (in gene order) that lands in the band.</summary>
    bool TryOppositePair(int[] genome, ref long p)
    {
        for (int up = 0; up < GeneCount; up++)
        {
            if (genome[up] + 1 > hi[up]) continue;
            long gain = paramsOf[up][genome[up] + 1] - paramsOf[up][genome[up]];
            for (int down = 0; down < GeneCount; down++)
            {
                if (down == up || genome[down] - 1 < lo[down]) continue;
                long loss = paramsOf[down][genome[down]] - paramsOf[down][genome[down] - 1];
                if (!InBand(p + gain - loss)) continue;
                genome[up]++;
                genome[down]--;
                p += gain - loss;
                return true;
            }
        }
        return false;
    }

    /// <summary>A uniformly random genome inside the allowed ranges, repaired onto the band.</summary>
    public int[] RandomGenome(Random random)
    {
        var genome = new int[GeneCount];
        for (int g = 0; g < GeneCount; g++) genome[g] = random.Next(lo[g], hi[g] + 1);
        Repair(genome, random);
        return genome;
    }

    /// <summary>An ordinal, hash-free identity of a genome (one char per gene) for duplicate detection.</summary>
    public static string Key(int[] genome)
    {
        return string.Create(genome.Length, genome, static (span, g) =>
        {
            for (int i = 0; i < g.Length; i++) span[i] = (char)g[i];
        });
    }
}
