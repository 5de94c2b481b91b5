using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Model;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>NasPrune's model against its GGUF export run by llama.cpp (GgufExportTests, GgufCliTests).</summary>
static class LlamaCppAgreement
{
    /// <summary>
    /// llama.cpp's logits for each window are within <paramref name="logitTolerance"/> of the window's largest logit
    /// of NasPrune's, and the perplexity over all windows (NasPrune's <see cref="LlamaForCausalLM.NextTokenNll"/>) within
    /// <paramref name="pplTolerance"/> relative.
    /// </summary>
    internal static void AssertAgrees(LlamaForCausalLM model, string ggufPath, int[][] windows,
        Xunit.Abstractions.ITestOutputHelper output, double logitTolerance = 1e-3, double pplTolerance = 1e-4)
    {
        int length = windows[0].Length;
        using var cpp = Load(ggufPath, length);
        Assert.Equal(model.Config.VocabSize, cpp.VocabSize);
        double oursNll = 0, theirsNll = 0;
        foreach (var window in windows)
        {
            var theirs = cpp.Logits(window);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var ours = model.call(tensor(window.Select(i => (long)i).ToArray(), [1, window.Length]))[0].data<float>().ToArray();
            int vocab = model.Config.VocabSize;
            double maxDiff = 0, maxLogit = 0;
            for (int t = 0; t < window.Length; t++)
                for (int j = 0; j < vocab; j++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs(theirs[t][j] - ours[t * vocab + j]));
                    maxLogit = Math.Max(maxLogit, Math.Abs(ours[t * vocab + j]));
                }
            output.WriteLine($"max |logit difference| {maxDiff:E3}, largest logit {maxLogit:F3}");
            Assert.True(maxDiff <= logitTolerance * maxLogit, $"max |logit difference| {maxDiff:E3} vs largest logit {maxLogit:F3}");
            for (int t = 0; t + 1 < window.Length; t++)
            {
                oursNll += NegativeLogLikelihood(ours.AsSpan(t * vocab, vocab), window[t + 1]);
                theirsNll += NegativeLogLikelihood(theirs[t], window[t + 1]);
            }
        }
        // Cross-check the per-position sum with NasPrune's own evaluation path (same windows, same sum).
        using var batch = tensor(windows.SelectMany(w => w).Select(i => (long)i).ToArray(), [windows.Length, length]);
        var (nll, predicted) = model.NextTokenNll(batch);
        Assert.True(Math.Abs(nll - oursNll) < 1e-3 * oursNll, $"NextTokenNll {nll} vs summed {oursNll}");
        double pplOurs = Math.Exp(nll / predicted), pplTheirs = Math.Exp(theirsNll / predicted);
        output.WriteLine($"ppl NasPrune {pplOurs:F6}, llama.cpp {pplTheirs:F6}, relative {Math.Abs(pplTheirs - pplOurs) / pplOurs:E2}");
        Assert.True(Math.Abs(pplTheirs - pplOurs) <= pplTolerance * pplOurs, $"llama.cpp ppl {pplTheirs} vs NasPrune {pplOurs}");
    }

    /// <summary>Loads the file; a refusal fails with llama.cpp's own reason (its log), not only LLamaSharp's "failed to load".</summary>
    static LlamaCppModel Load(string path, int contextSize)
    {
        var errors = new List<string>();
        try { return CapturingErrors(errors, () => new LlamaCppModel(path, contextSize)); }
        catch (Exception e) { throw new InvalidOperationException($"llama.cpp refused {path}: {string.Join(" | ", errors)}", e); }
    }

    /// <summary>llama.cpp's error log of a file it refuses to load; fails if it loads.</summary>
    internal static string Refusal(string path, int contextSize)
    {
        var errors = new List<string>();
        Assert.ThrowsAny<Exception>(() => CapturingErrors(errors, () => new LlamaCppModel(path, contextSize)).Dispose());
        return string.Join(" | ", errors);
    }

    /// <summary>
    /// llama.cpp's log hook is one static for the process and tests load files in parallel: one load at a time
    /// holds it, so each load's errors land in its own list.
    /// </summary>
    static readonly object LogHook = new();

    static T CapturingErrors<T>(List<string> errors, Func<T> load)
    {
        lock (LogHook)
        {
            var previous = LlamaCppModel.NativeErrors;
            LlamaCppModel.NativeErrors = m => { lock (errors) errors.Add(m.Trim()); };
            try { return load(); }
            finally { LlamaCppModel.NativeErrors = previous; }
        }
    }

    static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        double max = double.MinValue;
        foreach (float v in logits) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        return max + Math.Log(sum) - logits[target];
    }
}
