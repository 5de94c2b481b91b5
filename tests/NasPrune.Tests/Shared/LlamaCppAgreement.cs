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
        var r = GgufAgreement.Measure(model, cpp, windows);
        output.WriteLine($"max |logit difference| {r.MaxLogitDifference:E3}, largest logit {r.LargestLogit:F3}");
        Assert.True(r.RelativeLogitDifference <= logitTolerance, $"max |logit difference| {r.MaxLogitDifference:E3} vs largest logit {r.LargestLogit:F3}");
        // Cross-check the per-position perplexity with NasPrune's own evaluation path (same windows, same sum).
        using var batch = tensor(windows.SelectMany(w => w).Select(i => (long)i).ToArray(), [windows.Length, length]);
        var (nll, predicted) = model.NextTokenNll(batch);
        double pplOurs = Math.Exp(nll / predicted);
        Assert.True(Math.Abs(pplOurs - r.PplNasPrune) < 1e-3 * pplOurs, $"NextTokenNll's ppl {pplOurs} vs per position {r.PplNasPrune}");
        output.WriteLine($"ppl NasPrune {r.PplNasPrune:F6}, llama.cpp {r.PplLlamaCpp:F6}, relative {r.RelativePplDifference:E2}");
        Assert.True(r.RelativePplDifference <= pplTolerance, $"llama.cpp ppl {r.PplLlamaCpp} vs NasPrune {r.PplNasPrune}");
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
}
