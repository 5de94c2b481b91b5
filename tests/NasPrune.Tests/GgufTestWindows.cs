using NasPrune.Common;
using NasPrune.Evaluator.Tokenization;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// The fixed text both GGUF agreement suites compare llama.cpp with NasPrune on: the first two 96-token windows of the
/// WikiText-2 validation excerpt, tokenized by the real 7M model's byte-level BPE (4096 ids).
/// </summary>
static class GgufTestWindows
{
    /// <summary>The real 7M model (weights and tokenizer) every GGUF suite exports or borrows a tokenizer from.</summary>
    public static readonly string RealModelDir = Path.GetFullPath(Path.Combine(DataDirectory.Resolve(), "..", "experiments", "models", "nasprune-tiny-llama-general"));

    public static readonly string Excerpt = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "wikitext2-valid-excerpt.txt"));

    public const int Length = 96, Count = 2;

    public static int[][] Fixed()
    {
        var ids = TokenizerLoader.Load(RealModelDir).Encode(Excerpt);
        Assert.True(ids.Length >= Length * Count, $"excerpt has {ids.Length} tokens");
        return Enumerable.Range(0, Count).Select(w => ids.Skip(w * Length).Take(Length).ToArray()).ToArray();
    }
}
