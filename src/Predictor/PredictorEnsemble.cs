using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Predictor;

/// <summary>
/// Several accuracy predictors, each trained on a bootstrap resample of the pairs with its own seed, so that their
/// disagreement says how sure the predictor is about a candidate: where many pairs lie close by, every resample holds
/// some of them and the members agree; far from the data, each member extrapolates on its own and they spread.
/// The active search turns mean and spread into an acquisition value (<see cref="Acquisition"/>).
/// </summary>
public sealed class PredictorEnsemble
{
    public IReadOnlyList<AccuracyPredictor> Members { get; }

    PredictorEnsemble(IReadOnlyList<AccuracyPredictor> members) => Members = members;

    /// <summary>
    /// Trains <paramref name="members"/> predictors. Member m draws Count rows with replacement (seed
    /// options.Seed·1000 + m) and trains with options.Seed + m; one member is a single predictor on a bootstrap
    /// resample, not the plain predictor on all rows, so that the spread is not biased towards it.
    /// </summary>
    public static PredictorEnsemble Train(IReadOnlyList<PairRecord> pairs, ModelConfig baseConfig, ImportanceProfile? profile,
        PredictorOptions options, int members)
    {
        if (members < 1) throw new UserError($"predictor ensemble members {members}: must be at least 1");
        var set = new PairSet(pairs, baseConfig);
        if (members == 1) return new PredictorEnsemble([AccuracyPredictor.Train(set, profile, options)]);
        // One uniform reference for all members (delta-uniform): a resample may hold no anchor.
        var uniform = options.Target == PredictorTarget.DeltaUniform ? UniformReference.FromPairs(set.Items, set.Config, "pairs") : null;
        var trained = new AccuracyPredictor[members];
        for (int m = 0; m < members; m++)
        {
            var random = new Random(unchecked(options.Seed * 1000 + m));
            var resample = Enumerable.Range(0, set.Count).Select(_ => random.Next(set.Count)).ToArray();
            trained[m] = AccuracyPredictor.Train(set.Subset(resample), profile, options with { Seed = options.Seed + m }, uniform);
        }
        return new PredictorEnsemble(trained);
    }

    /// <summary>Per candidate, the members' mean prediction and their standard deviation (the predictor's measure units).</summary>
    public (double[] Mean, double[] Spread) Predict(IReadOnlyList<Architecture> candidates)
    {
        var all = Members.Select(m => m.PredictMeasure(candidates)).ToArray();
        var mean = new double[candidates.Count];
        var spread = new double[candidates.Count];
        for (int i = 0; i < candidates.Count; i++)
        {
            var values = all.Select(p => p[i]).ToArray();
            mean[i] = values.Average();
            spread[i] = values.Length < 2 ? 0 : MathNet.Numerics.Statistics.Statistics.StandardDeviation(values);
        }
        return (mean, spread);
    }
}
