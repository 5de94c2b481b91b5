using System.Diagnostics;

namespace NasPrune.Evaluator.Harness;

/// <summary>A question's prompt with the number of few-shot examples it kept.</summary>
public sealed record MmluPromptFit(string Prompt, int Shots);

/// <summary>
/// MMLU k-shot: each test question is prompted with the first k dev examples of its subject and scored by the
/// log-likelihood of " A" … " D". When the prompt is longer than the model's context, examples are dropped from
/// the end until it fits, as the original evaluation does (its <c>while crop(prompt) != prompt: k -= 1</c>); a
/// prompt too long even without examples is left-truncated by the scorer, as the harness would.
/// </summary>
public static class MmluEvaluator
{
    /// <summary>The prompt with as many of the first <paramref name="shots"/> examples as fit.</summary>
    public static MmluPromptFit FitPrompt(RequestEncoder encoder, MmluSubject subject, MmluQuestion question, int shots)
    {
        for (int k = shots; k > 0; k--)
        {
            string prompt = MmluPrompt.Build(subject.Name, subject.Dev, k, question);
            if (MmluPrompt.Continuations.All(c => encoder.Encode(new LoglikelihoodRequest(prompt, c), question.Source).DroppedContextTokens == 0))
                return new MmluPromptFit(prompt, k);
        }
        return new MmluPromptFit(MmluPrompt.Build(subject.Name, subject.Dev, 0, question), 0);
    }

    /// <summary>The scorer's items for every test question, in subject order, and the shots each prompt kept.</summary>
    public static (List<MultipleChoiceItem> Items, List<int> ShotsKept) BuildItems(RequestEncoder encoder,
        IReadOnlyList<MmluSubject> subjects, int shots)
    {
        var items = new List<MultipleChoiceItem>();
        var kept = new List<int>();
        foreach (var subject in subjects)
        {
            foreach (var question in subject.Test)
            {
                var fit = FitPrompt(encoder, subject, question, shots);
                items.Add(new MultipleChoiceItem(question.Source,
                    MmluPrompt.Continuations.Select(c => new LoglikelihoodRequest(fit.Prompt, c)).ToList(),
                    MmluQuestion.Letters, question.Answer));
                kept.Add(fit.Shots);
            }
        }
        return (items, kept);
    }

    public static MmluResult Evaluate(LogLikelihoodScorer scorer, IReadOnlyList<MmluSubject> subjects, int shots,
        IProgress<int>? progress = null)
    {
        var watch = Stopwatch.StartNew();
        var (items, kept) = BuildItems(scorer.Encoder, subjects, shots);
        var scores = scorer.Score(items, progress);

        var perSubject = new List<MmluSubjectResult>();
        int at = 0, correct = 0;
        foreach (var subject in subjects)
        {
            int n = subject.Test.Count, right = 0, dropped = 0;
            for (int i = at; i < at + n; i++)
            {
                if (scores[i].Prediction == items[i].Gold) right++;
                if (kept[i] < shots) dropped++;
            }
            perSubject.Add(new MmluSubjectResult(subject.Name, n, n == 0 ? 0 : right / (double)n, dropped));
            correct += right;
            at += n;
        }
        var scored = perSubject.Where(s => s.N > 0).ToList();
        return new MmluResult("mmlu", "test", MmluPrompt.Format, shots, items.Count,
            Acc: items.Count == 0 ? 0 : correct / (double)items.Count,
            MacroAcc: scored.Count == 0 ? 0 : scored.Average(s => s.Acc),
            PromptsWithDroppedShots: kept.Count(k => k < shots),
            DroppedShots: kept.Sum(k => shots - k),
            TruncatedPrompts: scores.Count(s => s.TruncatedRequests > 0),
            watch.Elapsed.TotalSeconds, perSubject)
        {
            Correct = items.Select((item, i) => scores[i].Prediction == item.Gold).ToList(),
        };
    }
}
