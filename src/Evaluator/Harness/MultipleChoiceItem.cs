namespace NasPrune.Evaluator.Harness;

/// <summary>A context and a continuation whose log-likelihood given the context is wanted.</summary>
public sealed record LoglikelihoodRequest(string Context, string Continuation);

/// <summary>
/// One multiple-choice question as the scorer sees it: a request per choice (usually one context with several
/// continuations; WinoGrande has several contexts with one continuation), the choice texts whose lengths
/// normalise <c>acc_norm</c> (the harness's <c>doc_to_choice</c>), and the index of the right choice.
/// </summary>
/// <param name="Source">File and line of the question, for error messages.</param>
public sealed record MultipleChoiceItem(
    string Source, IReadOnlyList<LoglikelihoodRequest> Requests, IReadOnlyList<string> Choices, int Gold);
