using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Predictor;

/// <summary>
/// Predicts a candidate's loss (the card's target; lower is better) from its architecture without evaluating it:
/// ML.NET FastTree regression on architecture features (<see cref="ArchitectureFeaturizer"/>). Trains in well under
/// a second on a few hundred pairs, so the active search loop can retrain every round; predicts a batch of
/// candidates at once (compiled trees; an ML.NET transform for models without trees).
/// </summary>
public sealed class AccuracyPredictor
{
    readonly FeatureModel model;
    public PredictorCard Card { get; private set; }
    public ModelConfig BaseConfig { get; }
    public ArchitectureFeaturizer Featurizer { get; }
    public CompiledTreeEnsemble? Trees => model.Compiled;

    AccuracyPredictor(FeatureModel model, PredictorCard card, ModelConfig baseConfig)
    {
        this.model = model;
        Card = card;
        BaseConfig = baseConfig;
        Featurizer = new ArchitectureFeaturizer(baseConfig, card.Profile, card.Options.DepthGrid, card.Options.PerLayerFeatures);
        if (!Featurizer.Features.Select(f => f.Name).SequenceEqual(card.FeatureNames))
            throw new UserError($"predictor card: its feature names do not match this NasPrune's features for the base model (card written by another version?)");
    }

    public static AccuracyPredictor Train(IReadOnlyList<PairRecord> pairs, ModelConfig baseConfig, ImportanceProfile? profile, PredictorOptions options) =>
        Train(new PairSet(pairs, baseConfig), profile, options);

    /// <param name="uniform">The delta-uniform reference to use instead of the one from these pairs' anchors
    /// (cross-validation folds share the whole set's, since a fold may hold no anchor).</param>
    public static AccuracyPredictor Train(PairSet pairs, ImportanceProfile? profile, PredictorOptions options, UniformReference? uniform = null)
    {
        options.Validate();
        if (pairs.Count < 2) throw new UserError($"predictor: {pairs.Count} pairs are too few to train on");
        if (profile is not null && profile.ModelHash != pairs.BaseModel)
            throw new UserError($"importance profile is of model {profile.ModelHash}, the pairs of {pairs.BaseModel}");
        var featurizer = new ArchitectureFeaturizer(pairs.Config, profile, options.DepthGrid, options.PerLayerFeatures);
        uniform = options.Target == PredictorTarget.DeltaUniform ? uniform ?? UniformReference.FromPairs(pairs.Items, pairs.Config, "pairs") : null;
        var labels = Targets(pairs, options.Target, uniform);
        var block = featurizer.FeaturizeAll(pairs.Architectures);
        RidgeBase? ridge = null;
        if (options.RidgeLambda > 0 && options.Model != PredictorModelKind.Linear)
        {
            (ridge, labels) = RidgeBase.FitWithResiduals(block, labels, featurizer.Count, options.RidgeLambda);
        }
        var fitted = FeatureModel.Fit(block, labels, featurizer.Count, options);
        var card = new PredictorCard
        {
            BaseModel = pairs.BaseModel,
            ConfigJson = pairs.Config.ToJson().ToJsonString(),
            Profile = profile,
            Target = options.Target,
            Options = options,
            FeatureNames = featurizer.Features.Select(f => f.Name).ToArray(),
            TrainingSetHash = pairs.Hash(),
            TrainingPairs = pairs.Count,
            Uniform = uniform,
            Ridge = ridge,
        };
        return new AccuracyPredictor(fitted, card, pairs.Config);
    }

    /// <summary>The measured target of each pair (NLL or KL, or NLL minus the uniform reference at its param ratio).</summary>
    public static double[] Targets(PairSet pairs, PredictorTarget target, UniformReference? uniform) =>
        pairs.Items.Select(p => uniform is null ? PredictorTargets.Measured(p.Row, target) : p.Row.WikiText2Nll - uniform.At(p.Row.ParamRatio)).ToArray();

    /// <summary>The measured target of pairs in this predictor's units (for evaluation).</summary>
    public double[] Targets(PairSet pairs) => Targets(pairs, Card.Target, Card.Uniform);

    /// <summary>Predicted target per candidate (lower is better), one batch transform for the whole list.</summary>
    public double[] PredictTarget(IReadOnlyList<Architecture> candidates)
    {
        if (candidates.Count == 0) return [];
        foreach (var a in candidates) RequireBase(a);
        return Score(Featurizer.FeaturizeAll(candidates), model.Predict);
    }

    /// <summary>Model output plus the ridge trend (when the predictor has one).</summary>
    double[] Score(float[] block, Func<float[], double[]> trees)
    {
        var p = trees(block);
        Card.Ridge?.AddTo(p, block);
        return p;
    }

    /// <summary>The same predictions through one ML.NET batch transform (for the benchmark and the equality test).</summary>
    public double[] PredictTransform(IReadOnlyList<Architecture> candidates)
    {
        if (candidates.Count == 0) return [];
        foreach (var a in candidates) RequireBase(a);
        return Score(Featurizer.FeaturizeAll(candidates), model.PredictBatch);
    }

    /// <summary>The same predictions through one PredictionEngine call per row (for the benchmark only).</summary>
    public double[] PredictRowByRow(IReadOnlyList<Architecture> candidates)
    {
        if (candidates.Count == 0) return [];
        foreach (var a in candidates) RequireBase(a);
        return Score(Featurizer.FeaturizeAll(candidates), model.PredictRowByRow);
    }

    /// <summary>
    /// The predicted measure: the prediction plus, for the delta-uniform target, the uniform reference at the
    /// candidate's budget (NLL for nll and delta-uniform, KL for kl).
    /// </summary>
    public double[] PredictMeasure(IReadOnlyList<Architecture> candidates)
    {
        var p = PredictTarget(candidates);
        if (Card.Uniform is { } u)
            for (int i = 0; i < p.Length; i++) p[i] += u.At(candidates[i].ParamRatio(BaseConfig));
        return p;
    }

    /// <summary>
    /// Zero-shot use on another model family: featurizes the candidates with that family's configuration and
    /// importance profile. Only a predictor without per-layer features can do this (its features do not depend on
    /// the layer count).
    /// </summary>
    public double[] PredictOtherFamily(IReadOnlyList<Architecture> candidates, ModelConfig config, ImportanceProfile? profile)
    {
        if (Card.Options.PerLayerFeatures)
            throw new UserError("predictor: trained with per-layer features, so it only applies to its own base model (train with --depth-invariant to transfer)");
        if ((profile is null) != (Card.Profile is null))
            throw new UserError("predictor: the other family needs an importance profile exactly when the predictor was trained with one");
        var featurizer = new ArchitectureFeaturizer(config, profile, Card.Options.DepthGrid, perLayer: false);
        return Score(featurizer.FeaturizeAll(candidates), model.Predict);
    }

    /// <summary>Attaches evaluation results to the card (saved with the model).</summary>
    public void AttachMetrics(IReadOnlyDictionary<string, MetricSet>? crossValidation, IReadOnlyDictionary<string, MetricSet>? heldOut, string? heldOutHash) =>
        Card = Card with { CrossValidation = crossValidation ?? Card.CrossValidation, HeldOut = heldOut ?? Card.HeldOut, HeldOutSetHash = heldOutHash ?? Card.HeldOutSetHash };

    void RequireBase(Architecture a)
    {
        if (a.Base != Card.BaseModel)
            throw new UserError($"architecture {a.Id} is of base model {a.Base}, the predictor was trained on {Card.BaseModel}");
    }

    /// <summary>Writes the ML.NET model zip at <paramref name="path"/> and the card beside it (<see cref="PredictorCard.PathFor"/>).</summary>
    public void Save(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.Write(path, model.Save);
        Card.Save(PredictorCard.PathFor(path));
    }

    public static AccuracyPredictor Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: predictor model not found");
        var card = PredictorCard.Load(PredictorCard.PathFor(path));
        ModelConfig config;
        try { config = ModelConfig.FromJson(JsonNode.Parse(card.ConfigJson) as JsonObject ?? throw new UserError($"{path}: card config is not a JSON object"), $"{PredictorCard.PathFor(path)}: config_json"); }
        catch (System.Text.Json.JsonException e) { throw new UserError($"{PredictorCard.PathFor(path)}: malformed config_json ({e.Message})"); }
        FeatureModel model;
        try
        {
            using var stream = File.OpenRead(path);
            model = FeatureModel.Load(stream, card.FeatureNames.Count, card.Options.Seed);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException or ArgumentException)
        {
            throw new UserError($"{path}: not an ML.NET predictor model ({e.Message.Split('\n')[0]})");
        }
        return new AccuracyPredictor(model, card, config);
    }

    /// <summary>Checks evaluation pairs against the card: same base model (a UserError otherwise).</summary>
    public void RequireSameBase(PairSet pairs, string source) => RequireSameBase(pairs.Items.Select(p => p.Row), source);

    /// <summary>Throws when any row was measured on another base model than this predictor's (checked before the rows are featurized).</summary>
    public void RequireSameBase(IEnumerable<PairRecord> rows, string source)
    {
        var other = rows.FirstOrDefault(r => r.BaseModel != Card.BaseModel);
        if (other is not null)
            throw new UserError($"{source}: pairs are of base model {other.BaseModel}, the predictor was trained on {Card.BaseModel}");
    }
}
