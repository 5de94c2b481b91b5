using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>One model's metrics (a row of the comparison table).</summary>
public sealed record ModelScore(string Model, MetricSet Metrics);

/// <summary>One learning-curve point: a model trained on <see cref="Pairs"/> pairs, mean ± std over repeats.</summary>
public sealed record LearningPoint(string Model, int Pairs, double KendallTau, double KendallTauStd, double Spearman, double TopKPrecision, int Repeats);

/// <summary>Settings of the comparison: folds, learning-curve sizes and repeats.</summary>
public sealed record StudyOptions(int Folds = 5, int[]? CurveSizes = null, int CurveRepeats = 3, int Seed = 1234)
{
    public int[] Sizes => CurveSizes ?? [50, 100, 200, 400, 800, 1600];
}

/// <summary>Everything `predictor train` reports: CV table, held-out table, learning curve, scatter data.</summary>
public sealed record StudyResult(
    IReadOnlyList<ModelScore> CrossValidation, IReadOnlyList<ModelScore>? HeldOut, IReadOnlyList<LearningPoint> LearningCurve,
    string CurveEvaluatedOn, double[] ScatterMeasured, double[] ScatterPredicted, string ScatterSource);

/// <summary>
/// The honest evaluation of the predictor against its baselines in one run, on the same folds and the same held-out
/// pairs: the learners (<see cref="Learners"/>) and two zero-cost proxies that need no training: "fewer parameters removed is better" (score = removed
/// parameter share) and "sum of removed importance" (removed head share + removed channel share + removed layer
/// share of the pairs' importance criterion). Proxies have no units, so only their rank metrics are reported.
/// </summary>
public static class PredictorStudy
{
    public const string ProxyParams = "proxy: params removed";
    public const string ProxyImportance = "proxy: removed importance";

    public static string Name(PredictorModelKind kind) => kind switch
    {
        PredictorModelKind.FastTree => "fasttree (predictor)",
        PredictorModelKind.LightGbm => "lightgbm",
        PredictorModelKind.Linear => "linear (sdca)",
        _ => kind.ToString(),
    };

    public const string WithTrend = "fasttree + ridge trend";

    /// <summary>The learners compared: the predictor as configured, the same trees on a ridge trend (ablation),
    /// plain LightGBM and the SDCA linear model, all on the same features and tree options.</summary>
    public static readonly (string Name, Func<PredictorOptions, PredictorOptions> Configure)[] Learners =
    [
        (Name(PredictorModelKind.FastTree), o => o with { Model = PredictorModelKind.FastTree }),
        (WithTrend, o => o with { Model = PredictorModelKind.FastTree, RidgeLambda = o.RidgeLambda > 0 ? o.RidgeLambda : 0.05 }),
        (Name(PredictorModelKind.LightGbm), o => o with { Model = PredictorModelKind.LightGbm, RidgeLambda = 0 }),
        (Name(PredictorModelKind.Linear), o => o with { Model = PredictorModelKind.Linear }),
    ];

    /// <summary>Proxy scores (lower = predicted better) by proxy name.</summary>
    public static IEnumerable<(string Name, double[] Score)> Proxies(PairSet pairs, ImportanceProfile? profile)
    {
        yield return (ProxyParams, pairs.Items.Select(p => 1 - p.Arch.ParamRatio(pairs.Config)).ToArray());
        if (profile is not null)
            yield return (ProxyImportance, pairs.Items.Select(p => profile.RemovedHeadShare(p.Arch) + profile.RemovedChannelShare(p.Arch) + profile.RemovedLayerShare(p.Arch)).ToArray());
    }

    public static UniformReference? Reference(PairSet pairs, PredictorOptions o) =>
        o.Target == PredictorTarget.DeltaUniform ? UniformReference.FromPairs(pairs.Items, pairs.Config, "training pairs") : null;

    /// <summary>k-fold CV on the training pairs for every learner and proxy; also returns the predictor's out-of-fold predictions.</summary>
    public static (IReadOnlyList<ModelScore> Scores, double[] Measured, double[] OutOfFold) CrossValidate(
        PairSet pairs, ImportanceProfile? profile, PredictorOptions o, StudyOptions s)
    {
        if (pairs.Count < 2 * s.Folds) throw new UserError($"cross-validation: {pairs.Count} pairs are too few for {s.Folds} folds");
        var uniform = Reference(pairs, o);
        var target = AccuracyPredictor.Targets(pairs, o.Target, uniform);
        var order = SeededPermutation.Of(pairs.Count, s.Seed);
        var folds = Enumerable.Range(0, s.Folds).Select(f => order.Where((_, k) => k % s.Folds == f).Order().ToArray()).ToArray();
        var outOfFold = new double[pairs.Count];
        var scores = new List<ModelScore>();
        foreach (var (learner, configure) in Learners)
        {
            var perFold = new List<MetricSet>();
            foreach (var test in folds)
            {
                var testSet = test.ToHashSet();
                var train = pairs.Subset(Enumerable.Range(0, pairs.Count).Where(i => !testSet.Contains(i)));
                var p = AccuracyPredictor.Train(train, profile, configure(o), uniform);
                var predicted = p.PredictTarget(test.Select(i => pairs.Items[i].Arch).ToList());
                perFold.Add(PredictorMetrics.All(test.Select(i => target[i]).ToArray(), predicted));
                if (learner == Learners[0].Name) for (int k = 0; k < test.Length; k++) outOfFold[test[k]] = predicted[k];
            }
            scores.Add(new ModelScore(learner, MetricSet.Mean(perFold)));
        }
        foreach (var (name, score) in Proxies(pairs, profile))
            scores.Add(new ModelScore(name, MetricSet.Mean(folds.Select(test =>
                PredictorMetrics.RankOnly(test.Select(i => target[i]).ToArray(), test.Select(i => score[i]).ToArray())).ToList())));
        return (scores, target, outOfFold);
    }

    /// <summary>Every learner trained on all training pairs, every model scored on the held-out pairs.</summary>
    public static (IReadOnlyList<ModelScore> Scores, double[] Measured, double[] Predicted) HeldOut(
        PairSet train, PairSet heldOut, ImportanceProfile? profile, PredictorOptions o)
    {
        heldOut.RequireBase(train.BaseModel, "held-out pairs");
        var uniform = Reference(train, o);
        var target = AccuracyPredictor.Targets(heldOut, o.Target, uniform);
        var scores = new List<ModelScore>();
        double[] fastTree = [];
        foreach (var (learner, configure) in Learners)
        {
            var predicted = AccuracyPredictor.Train(train, profile, configure(o), uniform).PredictTarget(heldOut.Architectures);
            if (learner == Learners[0].Name) fastTree = predicted;
            scores.Add(new ModelScore(learner, PredictorMetrics.All(target, predicted)));
        }
        foreach (var (name, score) in Proxies(heldOut, profile))
            scores.Add(new ModelScore(name, PredictorMetrics.RankOnly(target, score)));
        return (scores, target, fastTree);
    }

    /// <summary>
    /// Kendall τ (and ρ, top-10%) on the evaluation pairs vs the number of training pairs, for every learner: seeded
    /// random subsets, <see cref="StudyOptions.CurveRepeats"/> per size (one when the size is the whole set).
    /// Proxies need no training and are reported once, at size 0.
    /// </summary>
    public static IReadOnlyList<LearningPoint> LearningCurve(PairSet train, PairSet eval, ImportanceProfile? profile, PredictorOptions o, StudyOptions s)
    {
        var uniform = Reference(train, o);
        var target = AccuracyPredictor.Targets(eval, o.Target, uniform);
        var sizes = s.Sizes.Where(n => n < train.Count).Append(train.Count).Distinct().Order().ToArray();
        var points = new List<LearningPoint>();
        foreach (var (learner, configure) in Learners)
            foreach (int n in sizes)
            {
                int repeats = n == train.Count ? 1 : s.CurveRepeats;
                var runs = Enumerable.Range(0, repeats).Select(r =>
                {
                    var subset = train.Sample(n, s.Seed + 7919 * r);
                    return PredictorMetrics.All(target, AccuracyPredictor.Train(subset, profile, configure(o), uniform).PredictTarget(eval.Architectures));
                }).ToList();
                points.Add(Point(learner, n, runs));
            }
        foreach (var (name, score) in Proxies(eval, profile))
            points.Add(Point(name, 0, [PredictorMetrics.RankOnly(target, score)]));
        return points;
    }

    static LearningPoint Point(string model, int n, IReadOnlyList<MetricSet> runs)
    {
        double mean = runs.Average(r => r.KendallTau);
        double std = Math.Sqrt(runs.Average(r => (r.KendallTau - mean) * (r.KendallTau - mean)));
        return new LearningPoint(model, n, mean, std, runs.Average(r => r.Spearman), runs.Average(r => r.TopKPrecision), runs.Count);
    }

    /// <summary>
    /// The whole comparison. Without held-out pairs, the learning curve is measured on a fixed 20% of the training
    /// pairs (the curve then draws from the other 80%).
    /// </summary>
    public static StudyResult Run(PairSet train, PairSet? heldOut, ImportanceProfile? profile, PredictorOptions o, StudyOptions s)
    {
        var cv = CrossValidate(train, profile, o, s);
        if (heldOut is not null)
        {
            var h = HeldOut(train, heldOut, profile, o);
            var curve = LearningCurve(train, heldOut, profile, o, s);
            return new StudyResult(cv.Scores, h.Scores, curve, "held-out pairs", h.Measured, h.Predicted, "held-out pairs");
        }
        var order = SeededPermutation.Of(train.Count, s.Seed);
        int evalCount = Math.Max(2, train.Count / 5);
        var evalSet = train.Subset(order.Take(evalCount).Order());
        var curveTrain = train.Subset(order.Skip(evalCount).Order());
        var fallbackCurve = LearningCurve(curveTrain, evalSet, profile, o, s);
        return new StudyResult(cv.Scores, null, fallbackCurve, "a fixed 20% of the training pairs", cv.Measured, cv.OutOfFold, "out-of-fold predictions");
    }
}
