using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>
/// Turns candidates into feature vectors (layout: <see cref="FeatureCatalog"/>). The search featurizes ~50,000
/// candidates per generation, so everything that depends only on the base model is precomputed once: parameter and
/// FLOP cost of every possible head / channel count per layer, prefix sums of the importance scores, and the
/// overlap weights between layers and relative-depth cells. Featurizing a candidate is then O(layers · grid).
/// </summary>
public sealed class ArchitectureFeaturizer
{
    readonly ModelConfig config;
    readonly ImportanceProfile? profile;
    readonly int layers, grid;
    readonly bool perLayer;
    readonly long[][] attnParams, mlpParams;
    readonly double[][] attnFlops, mlpFlops;
    readonly double baseParams, baseFlops, fixedParams, fixedFlops;
    readonly double[][] headPrefix = [], ffnPrefix = [];
    readonly double[] headTotal = [], ffnTotal = [], layerScore = [];
    readonly double headGrandTotal, ffnGrandTotal, layerGrandTotal;
    /// <summary>depthWeights[g][i]: share of depth cell g covered by layer i (each row sums to 1).</summary>
    readonly double[][] depthWeights;
    /// <summary>The non-zero entries of <see cref="depthWeights"/> per cell (a cell overlaps one or two layers, not all).</summary>
    readonly (int Layer, double Weight)[][] cellLayers;
    readonly int[] storedHeads, storedFfn;

    public IReadOnlyList<FeatureInfo> Features { get; }
    public int Count => Features.Count;

    public ArchitectureFeaturizer(ModelConfig config, ImportanceProfile? profile, int depthGrid, bool perLayer)
    {
        if (depthGrid < 1) throw new UserError($"depth grid {depthGrid}: needs at least one cell");
        this.config = config;
        this.profile = profile;
        layers = config.NumHiddenLayers;
        grid = depthGrid;
        this.perLayer = perLayer;
        Features = FeatureCatalog.Describe(layers, depthGrid, profile is not null, perLayer);

        int seqLen = config.MaxPositionEmbeddings;
        attnParams = new long[layers][]; mlpParams = new long[layers][];
        attnFlops = new double[layers][]; mlpFlops = new double[layers][];
        for (int i = 0; i < layers; i++)
        {
            var stored = config.Layers[i];
            attnParams[i] = new long[stored.Heads + 1];
            attnFlops[i] = new double[stored.Heads + 1];
            for (int h = config.GroupSize; h <= stored.Heads; h += config.GroupSize)
            {
                var shape = new LayerShape(true, h, h / config.GroupSize, 0);
                attnParams[i][h] = config.AttentionParams(shape);
                attnFlops[i][h] = LayerFlops(config, shape, seqLen);
            }
            mlpParams[i] = new long[stored.Ffn + 1];
            mlpFlops[i] = new double[stored.Ffn + 1];
            for (int f = 1; f <= stored.Ffn; f++)
            {
                mlpParams[i][f] = config.MlpParams(new LayerShape(true, 0, 0, f));
                mlpFlops[i][f] = LayerFlops(config, new LayerShape(true, 0, 0, f), seqLen);
            }
        }
        baseParams = config.TotalParams;
        baseFlops = config.ForwardFlopsPerToken(seqLen);
        fixedParams = config.EmbeddingParams;
        fixedFlops = (config with { Layers = [] }).ForwardFlopsPerToken(seqLen);

        if (profile is not null)
        {
            CheckProfile(profile, config);
            headPrefix = profile.Heads.Select(Prefix).ToArray();
            ffnPrefix = profile.Channels.Select(Prefix).ToArray();
            headTotal = headPrefix.Select(p => p[^1]).ToArray();
            ffnTotal = ffnPrefix.Select(p => p[^1]).ToArray();
            layerScore = profile.Layers.Select(Math.Abs).ToArray();
            headGrandTotal = headTotal.Sum(); ffnGrandTotal = ffnTotal.Sum(); layerGrandTotal = layerScore.Sum();
        }

        depthWeights = DepthWeights(layers, grid);
        cellLayers = depthWeights.Select(w => w.Select((x, i) => (i, x)).Where(p => p.x != 0).ToArray()).ToArray();
        storedHeads = config.Layers.Select(l => l.Heads).ToArray();
        storedFfn = config.Layers.Select(l => l.Ffn).ToArray();
    }

    /// <summary>
    /// Overlap of layer i's depth interval [i/L, (i+1)/L) with cell g's [g/G, (g+1)/G), normalised per cell. The
    /// resampled value is the cell average of the piecewise-constant per-layer profile, so it depends on the profile
    /// over relative depth only: repeating every layer k times gives the same features.
    /// </summary>
    public static double[][] DepthWeights(int layers, int cells)
    {
        var w = new double[cells][];
        for (int g = 0; g < cells; g++)
        {
            w[g] = new double[layers];
            double lo = (double)g / cells, hi = (double)(g + 1) / cells;
            for (int i = 0; i < layers; i++)
            {
                double overlap = Math.Min(hi, (double)(i + 1) / layers) - Math.Max(lo, (double)i / layers);
                if (overlap > 0) w[g][i] = overlap * cells;
            }
        }
        return w;
    }

    /// <summary>FLOPs one layer shape adds, from ModelConfig's own formula (a one-layer model minus the lm_head).</summary>
    static double LayerFlops(ModelConfig c, LayerShape shape, int seqLen) =>
        (c with { Layers = [shape] }).ForwardFlopsPerToken(seqLen) - (c with { Layers = [] }).ForwardFlopsPerToken(seqLen);

    static double[] Prefix(double[] scores)
    {
        var p = new double[scores.Length + 1];
        for (int k = 0; k < scores.Length; k++) p[k + 1] = p[k] + Math.Abs(scores[k]);
        return p;
    }

    static void CheckProfile(ImportanceProfile p, ModelConfig c)
    {
        if (p.Heads.Length != c.NumHiddenLayers || p.Channels.Length != c.NumHiddenLayers || p.Layers.Length != c.NumHiddenLayers)
            throw new UserError($"importance profile ({p.ModelHash}): {p.Heads.Length} layers, the base model has {c.NumHiddenLayers}");
        for (int i = 0; i < c.NumHiddenLayers; i++)
            if (p.Heads[i].Length != c.Layers[i].Heads || p.Channels[i].Length != c.Layers[i].Ffn)
                throw new UserError($"importance profile ({p.ModelHash}): layer {i} has {p.Heads[i].Length} head and {p.Channels[i].Length} channel scores, the base model has {c.Layers[i].Heads} and {c.Layers[i].Ffn}");
    }

    /// <summary>Features of one candidate into <paramref name="dest"/> (length <see cref="Count"/>).</summary>
    public void Featurize(Architecture a, Span<float> dest)
    {
        if (a.Layers.Count != layers)
            throw new UserError($"architecture {a.Id}: {a.Layers.Count} layers, the predictor's base model has {layers}");
        if (dest.Length != Count) throw new ArgumentException($"feature buffer holds {dest.Length}, need {Count}");
        Span<double> head = stackalloc double[layers], ffn = stackalloc double[layers];
        Span<double> headRemoved = stackalloc double[layers], ffnRemoved = stackalloc double[layers];
        double kept = fixedParams, flops = fixedFlops;
        double headImpRemoved = 0, ffnImpRemoved = 0, layerImpRemoved = 0;
        int attnRemoved = 0, mlpRemoved = 0, dropped = 0;
        var archLayers = a.Layers;
        for (int i = 0; i < layers; i++)
        {
            var l = archLayers[i];
            int h = l.Keep ? l.Heads : 0, f = l.Keep ? l.Ffn : 0;
            if (h < 0 || h > storedHeads[i] || f < 0 || f > storedFfn[i] || h % config.GroupSize != 0)
                a.Validate(config); // throws the one-line error naming the layer
            kept += attnParams[i][h] + mlpParams[i][f];
            flops += attnFlops[i][h] + mlpFlops[i][f];
            head[i] = storedHeads[i] == 0 ? 0 : (double)h / storedHeads[i];
            ffn[i] = storedFfn[i] == 0 ? 0 : (double)f / storedFfn[i];
            if (!l.Keep) dropped++;
            if (h == 0) attnRemoved++;
            if (f == 0) mlpRemoved++;
            if (profile is not null)
            {
                double hr = headTotal[i] - headPrefix[i][h], fr = ffnTotal[i] - ffnPrefix[i][f];
                headImpRemoved += hr; ffnImpRemoved += fr;
                headRemoved[i] = headTotal[i] == 0 ? 0 : hr / headTotal[i];
                ffnRemoved[i] = ffnTotal[i] == 0 ? 0 : fr / ffnTotal[i];
                if (!l.Keep) layerImpRemoved += layerScore[i];
            }
        }

        int k = 0;
        dest[k++] = (float)(kept / baseParams);
        dest[k++] = (float)(flops / baseFlops);
        dest[k++] = (float)Mean(head); dest[k++] = (float)Mean(ffn);
        dest[k++] = (float)Min(head); dest[k++] = (float)Min(ffn);
        dest[k++] = (float)Std(head); dest[k++] = (float)Std(ffn);
        dest[k++] = (float)attnRemoved / layers; dest[k++] = (float)mlpRemoved / layers; dest[k++] = (float)dropped / layers;
        k = Resample(head, dest, k);
        k = Resample(ffn, dest, k);
        if (profile is not null)
        {
            dest[k++] = (float)(headGrandTotal == 0 ? 0 : headImpRemoved / headGrandTotal);
            dest[k++] = (float)(ffnGrandTotal == 0 ? 0 : ffnImpRemoved / ffnGrandTotal);
            dest[k++] = (float)(layerGrandTotal == 0 ? 0 : layerImpRemoved / layerGrandTotal);
            k = Resample(headRemoved, dest, k);
            k = Resample(ffnRemoved, dest, k);
        }
        if (perLayer)
        {
            foreach (double v in head) dest[k++] = (float)v;
            foreach (double v in ffn) dest[k++] = (float)v;
            if (profile is not null)
            {
                foreach (double v in headRemoved) dest[k++] = (float)v;
                foreach (double v in ffnRemoved) dest[k++] = (float)v;
            }
        }
    }

    /// <summary>Features of many candidates as one row-major block (rows × <see cref="Count"/>).</summary>
    public float[] FeaturizeAll(IReadOnlyList<Architecture> candidates)
    {
        var block = new float[candidates.Count * Count];
        ParallelChunks.For(candidates.Count, (from, to) =>
        {
            for (int r = from; r < to; r++) Featurize(candidates[r], block.AsSpan(r * Count, Count));
        });
        return block;
    }

    public float[] Featurize(Architecture a)
    {
        var v = new float[Count];
        Featurize(a, v);
        return v;
    }

    int Resample(ReadOnlySpan<double> perLayerValues, Span<float> dest, int k)
    {
        for (int g = 0; g < grid; g++)
        {
            double s = 0;
            foreach (var (i, w) in cellLayers[g]) s += w * perLayerValues[i];
            dest[k++] = (float)s;
        }
        return k;
    }

    static double Mean(ReadOnlySpan<double> v) { double s = 0; foreach (var x in v) s += x; return s / v.Length; }
    static double Min(ReadOnlySpan<double> v) { double m = double.MaxValue; foreach (var x in v) m = Math.Min(m, x); return m; }
    static double Std(ReadOnlySpan<double> v)
    {
        double m = Mean(v), s = 0;
        foreach (var x in v) s += (x - m) * (x - m);
        return Math.Sqrt(s / v.Length);
    }
}
