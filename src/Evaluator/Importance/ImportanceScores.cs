using NasPrune.Common;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// The output of an importance criterion for one model: a score per query head and per FFN channel of every
/// layer (higher = more important), and one per layer. Scores are comparable inside a layer; layer scores are
/// comparable across layers. Absent structures (a dropped layer, a layer without attention) have empty arrays.
/// </summary>
public sealed record ImportanceScores(
    string Criterion, string ModelHash, CalibrationSettings Calibration,
    double[][] Heads, double[][] Channels, double[] Layers)
{
    /// <summary>Scores of whole GQA groups (sum over the group's query heads): the unit heads are pruned in.</summary>
    public double[] GroupScores(int layer, int groupSize) =>
        Enumerable.Range(0, Heads[layer].Length / groupSize)
            .Select(g => Heads[layer].Skip(g * groupSize).Take(groupSize).Sum()).ToArray();

    /// <summary>
    /// The scores as the predictor's zero-cost proxies read them. Meaningful for reordered scores (what a
    /// <see cref="Pruning.PreparedModel"/> holds), where a candidate keeps a prefix of each layer.
    /// </summary>
    public ImportanceProfile ToProfile(int groupSize) => new(Criterion, ModelHash, groupSize, Heads, Channels, Layers);

    public void Save(string path) => JsonFile.Save(path, this);

    public static ImportanceScores Load(string path) => JsonFile.Load<ImportanceScores>(path, "importance file");
}
