using System.Text.RegularExpressions;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>
/// The GPT-2 pre-tokenization regex: splits text into words, numbers, punctuation runs and whitespace runs, each
/// with at most one leading space, before BPE runs inside each piece. Hugging Face's <c>ByteLevel</c> pre-tokenizer
/// with <c>use_regex: true</c> uses exactly this pattern, so the trainer and the loader share it to agree with each
/// other and with the <c>tokenizers</c> library.
/// </summary>
/// <remarks>
/// .NET matches UTF-16 code units, so a letter outside the Basic Multilingual Plane (a surrogate pair) counts as
/// punctuation rather than <c>\p{L}</c>. Trainer and loader see the same pieces, so ids stay consistent within
/// NasPrune; only such rare characters may split differently from the Rust library.
/// </remarks>
internal static partial class Gpt2PreTokenizer
{
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    [GeneratedRegex(Pattern)]
    public static partial Regex Regex { get; }
}
