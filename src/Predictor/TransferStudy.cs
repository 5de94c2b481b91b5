using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>One row of the transfer table: n pairs of the new family, Kendall τ (mean ± std over subsets) per method.</summary>
public sealed record TransferRow(int NewPairs, IReadOnlyDictionary<string, double> KendallTau, IReadOnlyDictionary<string, double> KendallTauStd,
    IReadOnlyDictionary<string, double> TopKPrecision, int Repeats);

public sealed record TransferResult(string SourceModel, string TargetModel, int SourcePairs, int TargetPool, int TargetHeldOut, string Target,
    MetricSet ZeroShot, IReadOnlyList<TransferRow> Rows);

/// <summary>
/// Does a predictor trained on one model family help on another? All predictors here use the depth-invariant
/// features only, so a vector means the same for any layer count. Methods, scored on held-out pairs of the new family:
/// <list type="bullet">
/// <item><c>zero-shot</c>: the old family's predictor applied as is (ranks only: the families' losses differ in level).</item>
/// <item><c>scratch</c>: the predictor's recipe (ridge trend + FastTree) on the n new pairs alone (the same options).</item>
/// <item><c>fine-tune</c>: the old predictor's output, rescaled by a least-squares line fitted on the n new pairs, plus
/// FastTree boosted on the residuals (gradient boosting continued from the old model: fewer, shallower steps).</item>
/// <item><c>pooled</c>: the predictor's recipe on the old family's pairs plus the n new ones, each family's target standardised
/// (z-score over its own pairs), the new pairs weighted by repetition to a quarter of the pool.</item>
/// </list>
/// </summary>
public static class TransferStudy
{
    public const string Scratch = "scratch", FineTune = "fine-tune", Pooled = "pooled", ZeroShot = "zero-shot";

    public static TransferResult Run(PairSet source, ImportanceProfile? sourceProfile, PairSet targetPool, PairSet targetHeldOut,
        ImportanceProfile? targetProfile, PredictorOptions o, int[] sizes, int repeats, int seed)
    {
        o = o with { PerLayerFeatures = false };
        if ((sourceProfile is null) != (targetProfile is null))
            throw new UserError("transfer: both families need an importance profile, or neither");
        var sourcePredictor = AccuracyPredictor.Train(source, sourceProfile, o);
        var sourceUniform = sourcePredictor.Card.Uniform;
        var targetFeaturizer = new ArchitectureFeaturizer(targetPool.Config, targetProfile, o.DepthGrid, perLayer: false);
        // The new family's target: the delta-uniform reference comes from its whole pool's anchors (as it would
        // after a first sampling round), so every method sees the same labels.
        var targetUniform = o.Target == PredictorTarget.DeltaUniform ? UniformReference.FromPairs(targetPool.Items, targetPool.Config, "new family pairs") : null;
        var poolLabels = AccuracyPredictor.Targets(targetPool, o.Target, targetUniform);
        var heldLabels = AccuracyPredictor.Targets(targetHeldOut, o.Target, targetUniform);
        var poolBlock = targetFeaturizer.FeaturizeAll(targetPool.Architectures);
        var heldBlock = targetFeaturizer.FeaturizeAll(targetHeldOut.Architectures);
        int d = targetFeaturizer.Count;

        var zeroPool = sourcePredictor.PredictOtherFamily(targetPool.Architectures, targetPool.Config, targetProfile);
        var zeroHeld = sourcePredictor.PredictOtherFamily(targetHeldOut.Architectures, targetHeldOut.Config, targetProfile);
        var zeroShot = PredictorMetrics.RankOnly(heldLabels, zeroHeld);

        var sourceBlock = sourcePredictor.Featurizer.FeaturizeAll(source.Architectures);
        var sourceLabels = Standardize(AccuracyPredictor.Targets(source, o.Target, sourceUniform));

        var rows = new List<TransferRow>();
        foreach (int n in sizes.Where(n => n >= 4 && n <= targetPool.Count))
        {
            var runs = new Dictionary<string, List<MetricSet>> { [Scratch] = [], [FineTune] = [], [Pooled] = [] };
            for (int r = 0; r < repeats; r++)
            {
                var order = SeededPermutation.Of(targetPool.Count, seed + 7919 * r + n);
                var pick = order.Take(n).ToArray();
                var block = Rows(poolBlock, d, pick);
                var labels = pick.Select(i => poolLabels[i]).ToArray();

                runs[Scratch].Add(PredictorMetrics.All(heldLabels, FitLikePredictor(block, labels, d, o)(heldBlock)));

                var z = pick.Select(i => zeroPool[i]).ToArray();
                var (a, b) = LeastSquares(z, labels);
                var residual = labels.Select((y, k) => y - (a + b * z[k])).ToArray();
                var fineOptions = o with { NumberOfTrees = Math.Max(1, o.NumberOfTrees / 4), NumberOfLeaves = Math.Min(o.NumberOfLeaves, 4) };
                var boost = FeatureModel.Fit(block, residual, d, fineOptions).Predict(heldBlock);
                runs[FineTune].Add(PredictorMetrics.All(heldLabels, zeroHeld.Select((zz, k) => a + b * zz + boost[k]).ToArray()));

                int copies = Math.Max(1, source.Count / (3 * n));
                var pooledBlock = new float[sourceBlock.Length + copies * block.Length];
                sourceBlock.CopyTo(pooledBlock, 0);
                for (int c = 0; c < copies; c++) block.CopyTo(pooledBlock, sourceBlock.Length + c * block.Length);
                var std = Standardize(labels);
                var pooledLabels = sourceLabels.Concat(Enumerable.Range(0, copies).SelectMany(_ => std)).ToArray();
                runs[Pooled].Add(PredictorMetrics.RankOnly(heldLabels, FitLikePredictor(pooledBlock, pooledLabels, d, o)(heldBlock)));
            }
            rows.Add(new TransferRow(n,
                runs.ToDictionary(kv => kv.Key, kv => kv.Value.Average(m => m.KendallTau)),
                runs.ToDictionary(kv => kv.Key, kv => Std(kv.Value.Select(m => m.KendallTau).ToArray())),
                runs.ToDictionary(kv => kv.Key, kv => kv.Value.Average(m => m.TopKPrecision)), repeats));
        }
        return new TransferResult(source.BaseModel, targetPool.BaseModel, source.Count, targetPool.Count, targetHeldOut.Count, o.Target.Name(), zeroShot, rows);
    }

    /// <summary>The predictor's own recipe on a feature block: the ridge trend (when enabled), trees on its residuals.</summary>
    static Func<float[], double[]> FitLikePredictor(float[] block, double[] labels, int d, PredictorOptions o)
    {
        if (o.RidgeLambda <= 0) { var plain = FeatureModel.Fit(block, labels, d, o); return plain.Predict; }
        var (ridge, residuals) = RidgeBase.FitWithResiduals(block, labels, d, o.RidgeLambda);
        var trees = FeatureModel.Fit(block, residuals, d, o);
        return x => { var p = trees.Predict(x); ridge.AddTo(p, x); return p; };
    }

    static float[] Rows(float[] block, int d, int[] pick)
    {
        var result = new float[pick.Length * d];
        for (int k = 0; k < pick.Length; k++) Array.Copy(block, pick[k] * d, result, k * d, d);
        return result;
    }

    static double[] Standardize(double[] y)
    {
        double mean = y.Average(), sd = Math.Sqrt(y.Average(v => (v - mean) * (v - mean)));
        return y.Select(v => sd == 0 ? 0 : (v - mean) / sd).ToArray();
    }

    static double Std(double[] v)
    {
        double m = v.Average();
        return Math.Sqrt(v.Average(x => (x - m) * (x - m)));
    }

    /// <summary>y ≈ a + b·x by least squares (b = 0 when x is constant).</summary>
    static (double A, double B) LeastSquares(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); }
        double b = sxx == 0 ? 0 : sxy / sxx;
        return (my - b * mx, b);
    }
}
