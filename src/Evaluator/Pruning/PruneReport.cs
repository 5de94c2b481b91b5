using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Perplexity;

namespace NasPrune.Evaluator.Pruning;

/// <summary>
/// What <c>nasprune prune</c> / <c>export</c> did to a model (prune.json beside an exported model, and its model card):
/// method, architecture, size, recovery, and perplexity before and after recovery.
/// </summary>
public sealed record PruneReport(string Model, string ModelHash, string Criterion, string Method, double? BudgetRemoved,
    string ArchitectureId, long Params, long BaseParams, double ParamRatio, double FlopsPerToken, double BaseFlopsPerToken,
    string Recovery, CalibrationSettings Calibration, IReadOnlyList<PerplexityResult> Before,
    IReadOnlyList<PerplexityResult>? After, string? Out, JsonObject Architecture);
