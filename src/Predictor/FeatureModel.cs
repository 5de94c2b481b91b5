using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace NasPrune.Predictor;

/// <summary>One ML.NET input row: the feature vector and the target.</summary>
public sealed class FeatureRow
{
    public float[] Features { get; set; } = [];
    public float Label { get; set; }
}

/// <summary>One ML.NET output row.</summary>
public sealed class ScoreRow
{
    public float Score { get; set; }
}

/// <summary>
/// The ML.NET side of the predictor: fits a regression learner (FastTree, LightGBM or the SDCA linear baseline)
/// on a row-major feature block, scores blocks by batch transform or row by row through a PredictionEngine,
/// and saves / loads the fitted transformer as an ML.NET model zip.
/// </summary>
public sealed class FeatureModel
{
    readonly MLContext ml;
    readonly SchemaDefinition schema;
    readonly CompiledTreeEnsemble? compiled;
    /// <summary>The flat copy of the trees that <see cref="Predict"/> walks (null for the linear model).</summary>
    public CompiledTreeEnsemble? Compiled => compiled;
    public ITransformer Transformer { get; }
    public int FeatureCount { get; }

    FeatureModel(MLContext ml, ITransformer transformer, int featureCount)
    {
        this.ml = ml;
        Transformer = transformer;
        FeatureCount = featureCount;
        schema = Schema(featureCount);
        compiled = CompiledTreeEnsemble.TryCompile(transformer, featureCount);
    }

    static SchemaDefinition Schema(int featureCount)
    {
        var s = SchemaDefinition.Create(typeof(FeatureRow));
        s[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return s;
    }

    public static FeatureModel Fit(float[] block, IReadOnlyList<double> labels, int featureCount, PredictorOptions o)
    {
        var ml = new MLContext(o.Seed);
        var data = ml.Data.LoadFromEnumerable(Rows(block, featureCount, labels), Schema(featureCount));
        IEstimator<ITransformer> estimator = o.Model switch
        {
            PredictorModelKind.FastTree => ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
            {
                NumberOfTrees = o.NumberOfTrees, NumberOfLeaves = o.NumberOfLeaves, MinimumExampleCountPerLeaf = o.MinimumExampleCountPerLeaf,
                LearningRate = o.LearningRate, FeatureFraction = o.FeatureFraction, Seed = o.Seed, FeatureSelectionSeed = o.Seed,
                NumberOfThreads = o.Threads,
            }),
            PredictorModelKind.LightGbm => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options
            {
                NumberOfIterations = o.NumberOfTrees, NumberOfLeaves = o.NumberOfLeaves, MinimumExampleCountPerLeaf = o.MinimumExampleCountPerLeaf,
                LearningRate = o.LearningRate, Seed = o.Seed, NumberOfThreads = o.Threads, Silent = true,
                Booster = new GradientBooster.Options { FeatureFraction = o.FeatureFraction },
            }),
            PredictorModelKind.Linear => ml.Transforms.NormalizeMeanVariance(nameof(FeatureRow.Features))
                .Append(ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options { NumberOfThreads = o.Threads, MaximumNumberOfIterations = 200 })),
            _ => throw new ArgumentOutOfRangeException(nameof(o), o.Model, "unknown predictor model"),
        };
        return new FeatureModel(ml, estimator.Fit(data), featureCount);
    }

    static IEnumerable<FeatureRow> Rows(float[] block, int featureCount, IReadOnlyList<double>? labels)
    {
        int n = block.Length / featureCount;
        for (int r = 0; r < n; r++)
            yield return new FeatureRow { Features = block.AsSpan(r * featureCount, featureCount).ToArray(), Label = labels is null ? 0 : (float)labels[r] };
    }

    /// <summary>Scores a block: the compiled trees when the model is a tree ensemble, else one batch transform.</summary>
    public double[] Predict(float[] block) => compiled?.PredictBlock(block, FeatureCount) ?? PredictBatch(block);

    /// <summary>Scores a block in one ML.NET batch transform.</summary>
    public double[] PredictBatch(float[] block)
    {
        var data = ml.Data.LoadFromEnumerable(Rows(block, FeatureCount, null), schema);
        var scored = Transformer.Transform(data);
        var result = new double[block.Length / FeatureCount];
        int r = 0;
        foreach (float s in scored.GetColumn<float>(nameof(ScoreRow.Score))) result[r++] = s;
        return result;
    }

    /// <summary>Scores a block one row at a time through a PredictionEngine (kept to measure against the batch path).</summary>
    public double[] PredictRowByRow(float[] block)
    {
        using var engine = ml.Model.CreatePredictionEngine<FeatureRow, ScoreRow>(Transformer, inputSchemaDefinition: schema);
        var result = new double[block.Length / FeatureCount];
        var row = new FeatureRow { Features = new float[FeatureCount] };
        var output = new ScoreRow();
        for (int r = 0; r < result.Length; r++)
        {
            block.AsSpan(r * FeatureCount, FeatureCount).CopyTo(row.Features);
            engine.Predict(row, ref output);
            result[r] = output.Score;
        }
        return result;
    }

    public void Save(Stream stream)
    {
        var data = ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), schema);
        ml.Model.Save(Transformer, data.Schema, stream);
    }

    public static FeatureModel Load(Stream stream, int featureCount, int seed)
    {
        var ml = new MLContext(seed);
        var transformer = ml.Model.Load(stream, out _);
        return new FeatureModel(ml, transformer, featureCount);
    }
}
