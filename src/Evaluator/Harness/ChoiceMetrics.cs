using System.Text;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// How lm-evaluation-harness turns per-choice log-likelihoods into a prediction. <c>acc</c>: the choice with the
/// largest summed log-likelihood. <c>acc_norm</c>: the largest log-likelihood divided by the length of the choice
/// text, which removes the bias towards short continuations.
/// </summary>
/// <remarks>
/// The harness divides by Python's <c>len(choice)</c>: Unicode code points of the choice text (without the
/// delimiter space), not tokens and not UTF-8 bytes (byte length is its separate <c>acc_bytes</c> metric). .NET's
/// <c>string.Length</c> counts UTF-16 units, which differs for characters outside the BMP, so code points are
/// counted here. Ties go to the first choice, as <c>np.argmax</c> does.
/// </remarks>
public static class ChoiceMetrics
{
    public static int Prediction(IReadOnlyList<double> logLikelihoods) => ArgMax(logLikelihoods);

    public static int NormalizedPrediction(IReadOnlyList<double> logLikelihoods, IReadOnlyList<string> choices) =>
        ArgMax(logLikelihoods.Select((ll, i) => ll / CodePoints(choices[i])).ToArray());

    /// <summary>Python's <c>len</c> of a string: code points (a lone surrogate counts as one, as in Python).</summary>
    public static int CodePoints(string text)
    {
        int n = 0;
        foreach (Rune _ in text.EnumerateRunes()) n++;
        return n;
    }

    static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
