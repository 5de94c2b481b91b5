using System.Diagnostics;

namespace NasPrune.Evaluator.Harness;

/// <summary>Scores a zero-shot task's questions and turns the predictions into acc and acc_norm.</summary>
public static class MultipleChoiceEvaluator
{
    public static MultipleChoiceResult Evaluate(LogLikelihoodScorer scorer, TaskDefinition task,
        IReadOnlyList<MultipleChoiceItem> items, IProgress<int>? progress = null)
    {
        var watch = Stopwatch.StartNew();
        var scores = scorer.Score(items, progress);
        var correct = Outcomes(items, scores, s => s.Prediction);
        var correctNorm = Outcomes(items, scores, s => s.NormalizedPrediction);
        return new MultipleChoiceResult(task.Task, task.Split, task.PromptFormat, Shots: 0, items.Count, Mean(correct), Mean(correctNorm),
            task.Metric, scores.Count(s => s.TruncatedRequests > 0), scores.Count(s => s.TruncatedContinuations > 0),
            watch.Elapsed.TotalSeconds, task.Note) { Correct = correct, CorrectNorm = correctNorm };
    }

    static List<bool> Outcomes(IReadOnlyList<MultipleChoiceItem> items, IReadOnlyList<ItemScore> scores, Func<ItemScore, int> prediction) =>
        items.Select((item, i) => prediction(scores[i]) == item.Gold).ToList();

    static double Mean(List<bool> correct) => correct.Count == 0 ? 0 : correct.Count(c => c) / (double)correct.Count;
}
