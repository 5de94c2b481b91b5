using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Evaluator.Pairs;

/// <summary>How far one pruned candidate's validation loss lies above the dense model's.</summary>
public sealed record CandidateGap(string ArchId, double ParamRatio, double Nll, double Gap);

/// <summary>
/// Whether the benchmark behaves as a real LLM does: removing structure from a model that has seen its evaluation
/// domain only raises its loss. <see cref="Holds"/> is true when every candidate's NLL lies strictly above the
/// dense model's on the same validation windows; <see cref="SmallestGap"/> is the closest call.
/// </summary>
public sealed record FaithfulnessReport(string ModelHash, string Criterion, int Windows, long WindowSeed, double DenseNll, double DensePpl,
    int Candidates, int AtOrBelowDense, CandidateGap SmallestGap, double MeanGap, double MinParamRatio, double MaxParamRatio)
{
    public bool Holds => AtOrBelowDense == 0;
}

public static class FaithfulnessCheck
{
    /// <summary>
    /// Scores the dense model with <paramref name="evaluator"/> (the protocol the pairs were measured with) and
    /// compares each pair's WikiText-2 validation NLL with it.
    /// </summary>
    public static FaithfulnessReport Run(PairEvaluator evaluator, IReadOnlyList<PairRecord> pairs)
    {
        if (pairs.Count == 0) throw new UserError("faithfulness: the pairs directory holds no rows");
        var prepared = evaluator.Prepared;
        foreach (var row in pairs)
            if (row.BaseModel != prepared.ModelHash)
                throw new UserError($"pair {row.ArchId}: base model {row.BaseModel}, but the model given is {prepared.ModelHash}");
        var dense = evaluator.Evaluate(prepared.Space.Full, out _);
        var gaps = pairs.Select(p => new CandidateGap(p.ArchId, p.ParamRatio, p.WikiText2Nll, p.WikiText2Nll - dense.WikiText2Nll)).ToList();
        return new FaithfulnessReport(prepared.ModelHash, prepared.Scores.Criterion, evaluator.Settings.Windows, evaluator.Settings.WindowSeed,
            dense.WikiText2Nll, dense.WikiText2Ppl, gaps.Count, gaps.Count(g => g.Gap <= 0), gaps.MinBy(g => g.Gap)!, gaps.Average(g => g.Gap),
            pairs.Min(p => p.ParamRatio), pairs.Max(p => p.ParamRatio));
    }
}
