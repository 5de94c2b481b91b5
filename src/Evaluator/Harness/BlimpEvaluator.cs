using System.Diagnostics;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// BLiMP scored as lm-evaluation-harness's <c>blimp_*</c> tasks: <c>doc_to_text: ""</c>, <c>doc_to_choice:
/// [sentence_good, sentence_bad]</c>, so each sentence is the continuation <c>" " + sentence</c> of an empty context,
/// which <see cref="RequestEncoder"/> turns into the end-of-text token: the sentence's total log-likelihood, its
/// first token included. The good sentence must be strictly more likely; a tie counts as wrong and is reported.
/// </summary>
public static class BlimpEvaluator
{
    public const string PromptFormat = "loglikelihood(\"\" → <|endoftext|>, \" \" + sentence), good vs bad";
    /// <summary>
    /// Rows per forward pass: BLiMP's sentences are short (a few dozen tokens), so many fit in one pass, and fewer,
    /// larger passes are several times faster on a CPU than the 8 rows sized for MMLU's long prompts.
    /// </summary>
    public const int RowsPerForward = 64;

    public const string TieRule = "a tie counts as wrong (lm-evaluation-harness's argmax would count it right: add ties / n)";

    /// <summary>A pair as the scorer sees it: two requests with the same empty context, the good sentence first (gold 0).</summary>
    public static MultipleChoiceItem Item(BlimpPair pair) => new(pair.Source,
        [new LoglikelihoodRequest("", " " + pair.Good), new LoglikelihoodRequest("", " " + pair.Bad)], [pair.Good, pair.Bad], 0);

    public static BlimpResult Evaluate(LogLikelihoodScorer scorer, IReadOnlyList<BlimpParadigm> paradigms, string task,
        IProgress<int>? progress = null)
    {
        var watch = Stopwatch.StartNew();
        // All paradigms in one scoring run, so the scorer's length-sorted batches span paradigms.
        var items = paradigms.SelectMany(p => p.Pairs.Select(Item)).ToList();
        var scores = scorer.Score(items, progress);

        var results = new List<BlimpParadigmResult>(paradigms.Count);
        int at = 0;
        foreach (var paradigm in paradigms)
        {
            var own = scores.Skip(at).Take(paradigm.Pairs.Count).ToList();
            at += own.Count;
            var correct = own.Select(s => s.LogLikelihoods[0] > s.LogLikelihoods[1]).ToList();
            int right = correct.Count(c => c);
            int ties = own.Count(s => s.LogLikelihoods[0] == s.LogLikelihoods[1]);
            results.Add(new BlimpParadigmResult(paradigm.Name, paradigm.Field, own.Count, own.Count == 0 ? 0 : right / (double)own.Count,
                ties, own.Count(s => s.TruncatedRequests > 0)) { Correct = correct });
        }
        var fields = results.GroupBy(r => r.Field).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new BlimpFieldResult(g.Key, g.Count(), g.Sum(r => r.N), g.Average(r => r.Acc))).ToList();
        return new BlimpResult(task, PromptFormat, TieRule, items.Count, results.Count == 0 ? 0 : results.Average(r => r.Acc),
            results.Sum(r => r.Ties), results.Sum(r => r.TruncatedPairs), watch.Elapsed.TotalSeconds, fields, results);
    }
}
