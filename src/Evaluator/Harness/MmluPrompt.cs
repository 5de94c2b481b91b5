using System.Text;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// The prompt of the original MMLU evaluation as lm-evaluation-harness writes it (task <c>mmlu</c>, default
/// template): a header naming the subject, the few-shot examples each ending with its answer, then the question
/// ending with "Answer:". The model is scored on the log-likelihood of " A", " B", " C" and " D" after it.
/// </summary>
/// <remarks>
/// Two details follow the harness rather than Hendrycks' script, since users compare with the harness: the
/// subject's words are joined by one space (the script's <c>format_subject</c> leaves a double space after
/// "about"), and the question is trimmed (<c>question.strip()</c>); the choices are used as they are.
/// </remarks>
public static class MmluPrompt
{
    /// <summary>The format, as every MMLU result records it.</summary>
    public const string Format =
        "\"The following are multiple choice questions (with answers) about <subject>.\\n\\n\" + per shot " +
        "\"<question>\\nA. <a>\\nB. <b>\\nC. <c>\\nD. <d>\\nAnswer: <X>\\n\\n\" + the question the same way ending " +
        "\"Answer:\"; continuations \" A\" \" B\" \" C\" \" D\"; shots: the first k dev rows";

    /// <summary>What follows the prompt for each choice: the harness's target delimiter (a space) and the letter.</summary>
    public static readonly IReadOnlyList<string> Continuations = MmluQuestion.Letters.Select(l => " " + l).ToArray();

    public static string Header(string subject) =>
        $"The following are multiple choice questions (with answers) about {subject.Replace('_', ' ')}.\n\n";

    /// <summary>One question: with its answer and a blank line (a shot), or ending at "Answer:" (the one scored).</summary>
    public static string Example(MmluQuestion q, bool withAnswer)
    {
        var text = new StringBuilder(q.Question.Trim());
        for (int i = 0; i < q.Choices.Count; i++)
            text.Append('\n').Append(MmluQuestion.Letters[i]).Append(". ").Append(q.Choices[i]);
        text.Append("\nAnswer:");
        if (withAnswer) text.Append(' ').Append(q.AnswerLetter).Append("\n\n");
        return text.ToString();
    }

    /// <summary>The whole prompt with the first <paramref name="shots"/> examples of <paramref name="dev"/>.</summary>
    public static string Build(string subject, IReadOnlyList<MmluQuestion> dev, int shots, MmluQuestion question)
    {
        var text = new StringBuilder(Header(subject));
        for (int i = 0; i < shots; i++) text.Append(Example(dev[i], withAnswer: true));
        return text.Append(Example(question, withAnswer: false)).ToString();
    }
}
