using System.Text.Json.Serialization;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// One zero-shot task's result with its protocol. <c>acc</c> and <c>acc_norm</c> as the harness defines them;
/// <c>metric</c> names the one the LLM-pruning papers report for this task.
/// </summary>
/// <param name="TruncatedContexts">Questions where a context lost tokens from the left to fit the model.</param>
/// <param name="TruncatedContinuations">Questions with a choice longer than the whole context, scored on its last tokens.</param>
public sealed record MultipleChoiceResult(
    string Task, string Split, string PromptFormat, int Shots, int N, double Acc, double AccNorm, string Metric,
    int TruncatedContexts, int TruncatedContinuations, double Seconds, string? Note = null)
{
    public double Reported => Metric == "acc_norm" ? AccNorm : Acc;

    /// <summary>Each item's outcome under acc, in item order (its mean is <see cref="Acc"/>). Not in the JSON.</summary>
    [JsonIgnore] public IReadOnlyList<bool>? Correct { get; init; }

    /// <summary>Each item's outcome under acc_norm (its mean is <see cref="AccNorm"/>). Not in the JSON.</summary>
    [JsonIgnore] public IReadOnlyList<bool>? CorrectNorm { get; init; }

    /// <summary>The outcomes under <see cref="Metric"/>, whose mean is <see cref="Reported"/>: what paired intervals resample.</summary>
    [JsonIgnore] public IReadOnlyList<bool>? ReportedCorrect => Metric == "acc_norm" ? CorrectNorm : Correct;
}

/// <summary>The unweighted mean over tasks (as the papers' "Average" column), of acc, acc_norm and the reported metric.</summary>
public sealed record MultipleChoiceAverage(int Tasks, double Acc, double AccNorm, double Reported)
{
    public static MultipleChoiceAverage Of(IReadOnlyList<MultipleChoiceResult> results) => new(
        results.Count, results.Average(r => r.Acc), results.Average(r => r.AccNorm), results.Average(r => r.Reported));
}

/// <summary>One MMLU subject: accuracy over its scored questions, and how many prompts lost shots to fit.</summary>
public sealed record MmluSubjectResult(string Subject, int N, double Acc, int PromptsWithDroppedShots);

/// <summary>
/// MMLU's result and protocol. <c>acc</c> is the micro average (all questions pooled: the original evaluation's
/// "average accuracy", and the harness's size-weighted group score); <c>macro_acc</c> the mean of the subjects.
/// </summary>
/// <param name="PromptsWithDroppedShots">Prompts that kept fewer than <paramref name="Shots"/> examples to fit the context.</param>
/// <param name="DroppedShots">Examples dropped over all prompts.</param>
/// <param name="TruncatedPrompts">Prompts that did not fit even without examples and lost their beginning.</param>
public sealed record MmluResult(
    string Task, string Split, string PromptFormat, int Shots, int N, double Acc, double MacroAcc,
    int PromptsWithDroppedShots, int DroppedShots, int TruncatedPrompts, double Seconds,
    IReadOnlyList<MmluSubjectResult> Subjects)
{
    /// <summary>Each question's outcome in subject order (its mean is <see cref="Acc"/>): for paired intervals. Not in the JSON.</summary>
    [JsonIgnore] public IReadOnlyList<bool>? Correct { get; init; }
}

/// <summary>
/// What <c>nasprune eval</c> reports for multiple-choice tasks: the protocol shared by all tasks (model, tokenizer,
/// context length, limit, scoring), then the zero-shot tasks with their average, MMLU, or BLiMP.
/// </summary>
/// <param name="SeqLen">The context length prompts were fitted to.</param>
/// <param name="Limit">--limit: only the first N questions of each task / subject (pairs of each BLiMP paradigm)
/// were scored (null: all).</param>
public sealed record HarnessReport(
    string ModelHash, string Tokenizer, int SeqLen, int? Limit, string Scoring,
    IReadOnlyList<MultipleChoiceResult>? Tasks = null, MultipleChoiceAverage? Average = null, MmluResult? Mmlu = null,
    BlimpResult? Blimp = null);
