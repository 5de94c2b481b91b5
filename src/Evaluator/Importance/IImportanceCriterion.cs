using NasPrune.Evaluator.Model;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// A way to score how much each query head, FFN channel and layer of a model matters (higher = more important).
/// Criteria score the model's full stored shape whatever active shape it has, and leave its active shapes and
/// weights as they found them (gradient-based ones clear the gradients afterwards). Criteria that need no data
/// still record the calibration settings, so that one cache key scheme serves all.
/// </summary>
public interface IImportanceCriterion
{
    /// <summary>The name users pass (magnitude, activation, taylor, output-approx).</summary>
    string Name { get; }

    ImportanceScores Score(LlamaForCausalLM model, CalibrationData data, string modelHash);
}
