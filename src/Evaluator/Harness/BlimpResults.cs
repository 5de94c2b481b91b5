using System.Text.Json.Serialization;

namespace NasPrune.Evaluator.Harness;

/// <summary>One paradigm: the share of pairs whose good sentence is strictly more likely, and the ties among the rest.</summary>
/// <param name="Ties">Pairs whose two sentences got the same log-likelihood: counted as wrong (the release has 7
/// pairs with identical sentences, so any model ties on them).</param>
/// <param name="TruncatedPairs">Pairs with a sentence longer than the context, scored on its last tokens.</param>
public sealed record BlimpParadigmResult(string Paradigm, string Field, int N, double Acc, int Ties, int TruncatedPairs)
{
    /// <summary>
    /// Each pair's outcome in dataset order (good strictly more likely), whose mean is <see cref="Acc"/>: for paired
    /// bootstrap intervals. Not in the JSON, which reports the accuracies.
    /// </summary>
    [JsonIgnore] public IReadOnlyList<bool>? Correct { get; init; }
}

/// <summary>A field (morphology, syntax, semantics, syntax_semantics): the mean accuracy of its paradigms.</summary>
public sealed record BlimpFieldResult(string Field, int Paradigms, int N, double Acc);

/// <summary>
/// BLiMP's result and protocol. <c>acc</c> is the unweighted mean over paradigms (lm-evaluation-harness's
/// <c>blimp</c> group, <c>weight_by_size: false</c>).
/// </summary>
/// <param name="PromptFormat">How a sentence is scored, in the words of the harness's requests.</param>
/// <param name="TieRule">What a tie counts as.</param>
public sealed record BlimpResult(
    string Task, string PromptFormat, string TieRule, int N, double Acc, int Ties, int TruncatedPairs, double Seconds,
    IReadOnlyList<BlimpFieldResult> Fields, IReadOnlyList<BlimpParadigmResult> Paradigms);
