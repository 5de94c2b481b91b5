using System.Security.Cryptography;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Pruning;

namespace NasPrune.Evaluator.Pairs;

/// <summary>The <see cref="PairProtocol"/> of pairs measured by an evaluator on a prepared model.</summary>
public static class PairProtocols
{
    public static PairProtocol Describe(PairEvaluator evaluator, CalibrationSettings calibration, double minKept, double maxKept, string budgetMetric, string? bounds, long seed)
    {
        var prepared = evaluator.Prepared;
        var evaluation = evaluator.Settings;
        bool hasKl = PairMeasure.HasKl(evaluation.Measure);
        return new PairProtocol(prepared.ModelHash, prepared.Scores.Criterion, calibration, minKept, maxKept, budgetMetric, bounds,
            ImportanceHash(prepared), seed, evaluation.Windows, evaluation.WindowSeed, evaluation.Tasks, evaluation.ZeroShotTask,
            evaluation.ZeroShotTask is null ? null : evaluation.ZeroShotItems, prepared.SeqLen, ProductVersion.Current,
            hasKl ? evaluation.Measure : null, hasKl ? evaluation.KlTopK : null);
    }

    /// <summary>
    /// A hash of the importance scores: workers of one directory must order heads and channels identically, or the
    /// same architecture id would mean different weights (e.g. GPU reductions that are not bit-exact across runs).
    /// </summary>
    public static string ImportanceHash(PreparedModel prepared)
    {
        var s = prepared.Scores;
        var bytes = s.Heads.Concat(s.Channels).Append(s.Layers).SelectMany(a => a).SelectMany(BitConverter.GetBytes).ToArray();
        return Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
    }
}
