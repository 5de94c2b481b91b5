namespace NasPrune.Evaluator.Harness;

/// <summary>One MMLU question: the text, the four choices in A–D order, the index of the right one, and where it came from.</summary>
public sealed record MmluQuestion(string Question, IReadOnlyList<string> Choices, int Answer, string Source)
{
    public static readonly IReadOnlyList<string> Letters = ["A", "B", "C", "D"];

    public string AnswerLetter => Letters[Answer];
}

/// <summary>One subject: its few-shot examples (dev split, in file order) and its scored questions (test split).</summary>
public sealed record MmluSubject(string Name, IReadOnlyList<MmluQuestion> Dev, IReadOnlyList<MmluQuestion> Test);
