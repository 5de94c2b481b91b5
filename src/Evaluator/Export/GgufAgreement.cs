using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// How closely llama.cpp, running a GGUF export, computes what NasPrune computes for the same model on the same
/// token windows: the largest logit difference relative to the largest logit, and both perplexities.
/// </summary>
public sealed record GgufAgreementResult(
    int Windows, int SeqLen, double MaxLogitDifference, double LargestLogit, double PplNasPrune, double PplLlamaCpp)
{
    /// <summary>The largest logit difference as a share of the largest |logit| (the tests hold F32 exports to 1e-3).</summary>
    public double RelativeLogitDifference => LargestLogit > 0 ? MaxLogitDifference / LargestLogit : MaxLogitDifference;

    /// <summary>|PPL(llama.cpp) − PPL(NasPrune)| / PPL(NasPrune) (the tests hold F32 exports to 1e-4).</summary>
    public double RelativePplDifference => Math.Abs(PplLlamaCpp - PplNasPrune) / PplNasPrune;
}

public static class GgufAgreement
{
    /// <summary>
    /// Runs every window through both engines, one at a time (llama.cpp from an empty cache each time), and
    /// compares all logits; the perplexities average the next-token NLL over every predicted position.
    /// </summary>
    public static GgufAgreementResult Measure(LlamaForCausalLM model, LlamaCppModel cpp, IReadOnlyList<int[]> windows, IProgress<int>? progress = null)
    {
        if (windows.Count == 0) throw new ArgumentException("no windows to compare");
        if (cpp.VocabSize != model.Config.VocabSize)
            throw new InvalidOperationException($"llama.cpp's vocabulary has {cpp.VocabSize} tokens, the model's {model.Config.VocabSize}");
        int vocab = model.Config.VocabSize;
        double maxDiff = 0, largest = 0, oursNll = 0, theirsNll = 0;
        long predicted = 0;
        for (int w = 0; w < windows.Count; w++)
        {
            int[] window = windows[w];
            var theirs = cpp.Logits(window);
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var ours = model.call(tensor(window.Select(i => (long)i).ToArray(), [1, window.Length]))[0]
                    .to(ScalarType.Float32, CPU).data<float>().ToArray();
                for (int t = 0; t < window.Length; t++)
                {
                    var row = ours.AsSpan(t * vocab, vocab);
                    for (int j = 0; j < vocab; j++)
                    {
                        maxDiff = Math.Max(maxDiff, Math.Abs(theirs[t][j] - row[j]));
                        largest = Math.Max(largest, Math.Abs(row[j]));
                    }
                    if (t + 1 < window.Length)
                    {
                        oursNll += NegativeLogLikelihood(row, window[t + 1]);
                        theirsNll += NegativeLogLikelihood(theirs[t], window[t + 1]);
                        predicted++;
                    }
                }
            }
            progress?.Report(w + 1);
        }
        return new GgufAgreementResult(windows.Count, windows[0].Length, maxDiff, largest,
            Math.Exp(oursNll / predicted), Math.Exp(theirsNll / predicted));
    }

    /// <summary>−log softmax(logits)[target], in double precision.</summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        double max = double.MinValue;
        foreach (float v in logits) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        return max + Math.Log(sum) - logits[target];
    }
}
