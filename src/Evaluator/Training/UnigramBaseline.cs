namespace NasPrune.Evaluator.Training;

/// <summary>
/// The reference a language model must beat: a unigram model (add-one smoothed token frequencies of the training
/// stream). Its perplexity on the evaluation windows' predicted tokens is directly comparable with the model's.
/// </summary>
public sealed class UnigramBaseline
{
    readonly double[] logProb;

    public UnigramBaseline(IReadOnlyList<int> trainingStream, int vocabSize)
    {
        var counts = new long[vocabSize];
        foreach (int id in trainingStream) counts[id]++;
        double total = trainingStream.Count + vocabSize;
        logProb = counts.Select(c => Math.Log((c + 1) / total)).ToArray();
    }

    /// <summary>Perplexity over the tokens a windowed evaluation predicts (every window position but the first).</summary>
    public double Perplexity(IReadOnlyList<long[]> windows)
    {
        double nll = 0;
        long n = 0;
        foreach (var w in windows)
            for (int i = 1; i < w.Length; i++) { nll -= logProb[w[i]]; n++; }
        return Math.Exp(nll / n);
    }
}
