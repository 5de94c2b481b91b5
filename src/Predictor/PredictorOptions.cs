using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>Which learner fits the features: the predictor itself (FastTree) or a baseline of the comparison.</summary>
public enum PredictorModelKind { FastTree, LightGbm, Linear }

/// <summary>
/// Hyper-parameters of the accuracy predictor (ML.NET sample style: an options record with sensible defaults).
/// The defaults suit a few hundred pairs: shallow trees, many of them, small learning rate, leaves of ≥ 5 pairs.
/// </summary>
public sealed record PredictorOptions
{
    /// <summary>What the predictor learns (<see cref="PredictorTarget"/>); written by name, "delta-uniform".</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(PredictorTargetJsonConverter))]
    public PredictorTarget Target { get; init; } = PredictorTarget.Nll;
    public PredictorModelKind Model { get; init; } = PredictorModelKind.FastTree;
    public int NumberOfTrees { get; init; } = 200;
    public int NumberOfLeaves { get; init; } = 8;
    public int MinimumExampleCountPerLeaf { get; init; } = 5;
    public double LearningRate { get; init; } = 0.1;
    /// <summary>Share of features each tree may split on (decorrelates trees; 1 = all).</summary>
    public double FeatureFraction { get; init; } = 0.7;
    /// <summary>Relative-depth cells the per-layer profiles are resampled onto (layer-count independent features).</summary>
    public int DepthGrid { get; init; } = 8;
    /// <summary>Also give the raw per-layer values (same-family use; off for a predictor meant to transfer).</summary>
    public bool PerLayerFeatures { get; init; } = true;
    /// <summary>
    /// Ridge penalty of a linear trend the trees are fitted on top of (<see cref="RidgeBase"/>); 0 = trees alone, the
    /// default: on the embedded model's 400 + 200 pairs the trend lowered held-out τ (0.779 vs 0.820).
    /// </summary>
    public double RidgeLambda { get; init; }
    public int Seed { get; init; } = 1234;
    /// <summary>Trainer threads (1 = reproducible to the bit and polite on a shared machine).</summary>
    public int Threads { get; init; } = 1;

    public void Validate()
    {
        if (!Enum.IsDefined(Target)) throw new UserError($"predictor target {(int)Target}: expected one of {PredictorTargets.Names}");
        if (NumberOfTrees < 1) throw new UserError($"predictor trees {NumberOfTrees}: must be at least 1");
        if (NumberOfLeaves < 2) throw new UserError($"predictor leaves {NumberOfLeaves}: must be at least 2");
        if (MinimumExampleCountPerLeaf < 1) throw new UserError($"predictor min leaf size {MinimumExampleCountPerLeaf}: must be at least 1");
        if (!(LearningRate > 0 && LearningRate <= 1)) throw new UserError($"predictor learning rate {LearningRate}: must lie in (0, 1]");
        if (!(FeatureFraction > 0 && FeatureFraction <= 1)) throw new UserError($"predictor feature fraction {FeatureFraction}: must lie in (0, 1]");
        if (DepthGrid < 1) throw new UserError($"predictor depth grid {DepthGrid}: must be at least 1");
        if (!(RidgeLambda >= 0)) throw new UserError($"predictor ridge lambda {RidgeLambda}: must be ≥ 0 (0 = no linear trend)");
        if (Threads < 1) throw new UserError($"predictor threads {Threads}: must be at least 1");
    }
}
