
namespace NasPrune.Common;

/// <summary>
/// The importance scores of a prepared (reordered) base model in the form the predictor needs for zero-cost
/// proxies: per layer, the scores of its query heads and FFN channels in kept-prefix order (a candidate keeps the
/// first k), plus one score per layer. Written next to the pairs so the predictor needs no model to featurize.
/// </summary>
public sealed record ImportanceProfile(string Criterion, string ModelHash, int GroupSize, double[][] Heads, double[][] Channels, double[] Layers)
{
    public const string FileName = "importance-profile.json";

    /// <summary>Share of all head importance (summed over layers) that the candidate removes.</summary>
    public double RemovedHeadShare(Architecture a) => RemovedShare(Heads, a, l => l.Heads);

    /// <summary>Share of all FFN channel importance that the candidate removes.</summary>
    public double RemovedChannelShare(Architecture a) => RemovedShare(Channels, a, l => l.Ffn);

    /// <summary>Share of the summed layer scores of the layers the candidate drops.</summary>
    public double RemovedLayerShare(Architecture a)
    {
        double total = Layers.Sum(Math.Abs);
        if (total == 0) return 0;
        return a.Layers.Select((l, i) => l.Keep ? 0 : Math.Abs(Layers[i])).Sum() / total;
    }

    /// <summary>Per-layer share of that layer's head (or channel) importance the candidate removes (1 for a dropped layer).</summary>
    public double[] RemovedPerLayer(Architecture a, bool heads)
    {
        var scores = heads ? Heads : Channels;
        return a.Layers.Select((l, i) =>
        {
            double total = scores[i].Sum(Math.Abs);
            if (total == 0) return 0.0;
            int kept = !l.Keep ? 0 : heads ? l.Heads : l.Ffn;
            return scores[i].Skip(kept).Sum(Math.Abs) / total;
        }).ToArray();
    }

    static double RemovedShare(double[][] scores, Architecture a, Func<LayerKeep, int> kept)
    {
        double total = scores.Sum(s => s.Sum(Math.Abs));
        if (total == 0) return 0;
        double removed = 0;
        for (int i = 0; i < a.Layers.Count; i++)
            removed += scores[i].Skip(a.Layers[i].Keep ? kept(a.Layers[i]) : 0).Sum(Math.Abs);
        return removed / total;
    }

    public void Save(string path) => JsonFile.Save(path, this);

    public static ImportanceProfile Load(string path) => JsonFile.Load<ImportanceProfile>(path, "importance profile");
}
