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
        double acc = Mean(items, scores, s => s.Prediction);
        double accNorm = Mean(items, scores, s => s.NormalizedPrediction);
        return new MultipleChoiceResult(task.Task, task.Split, task.PromptFormat, Shots: 0, items.Count, acc, accNorm,
            task.Metric, scores.Count(s => s.TruncatedRequests > 0), scores.Count(s => s.TruncatedContinuations > 0),
            watch.Elapsed.TotalSeconds, task.Note);
    }

    static double Mean(IReadOnlyList<MultipleChoiceItem> items, IReadOnlyList<ItemScore> scores, Func<ItemScore, int> prediction) =>
        items.Count == 0 ? 0 : items.Where((item, i) => prediction(scores[i]) == item.Gold).Count() / (double)items.Count;
}
