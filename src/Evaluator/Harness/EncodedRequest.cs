using NasPrune.Common;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// A request's tokens as the model will see them: <see cref="Input"/> is (context + continuation) without its last
/// token, left-truncated to the context length, and the <see cref="Continuation"/> tokens scored are predicted by
/// the last <c>Continuation.Length</c> positions of it.
/// </summary>
/// <param name="Continuation">The continuation's tokens that are scored: all of them, unless the continuation alone
/// is longer than the context (then its last tokens, and <paramref name="DroppedContinuationTokens"/> says how many
/// were not).</param>
/// <param name="DroppedContextTokens">Context tokens cut from the left to fit the model (0 when it fit).</param>
public sealed record EncodedRequest(int[] Input, int[] Continuation, int DroppedContextTokens, int DroppedContinuationTokens = 0)
{
    /// <summary>Position in <see cref="Input"/> whose next-token distribution predicts the first scored token.</summary>
    public int FirstPredictingPosition => Input.Length - Continuation.Length;

    public bool Truncated => DroppedContextTokens > 0 || DroppedContinuationTokens > 0;
}

/// <summary>
/// Tokenizes requests exactly as lm-evaluation-harness's Hugging Face backend does (<c>_encode_pair</c>,
/// <c>_loglikelihood_tokens</c>), so that continuation boundaries and truncation match its numbers:
/// <list type="bullet">
/// <item>trailing whitespace of the context moves to the front of the continuation;</item>
/// <item>the whole string is encoded, and the continuation is what follows the separately encoded context's
/// token count (BPE merges across the boundary land in the continuation, as in the harness);</item>
/// <item>an empty context becomes the end-of-text token, the harness's <c>prefix_token_id</c>;</item>
/// <item>no BOS is added (the harness's default for causal models);</item>
/// <item>the input is the last <c>maxLength + 1</c> tokens minus the final one, so a long context loses its
/// beginning and the continuation stays whole.</item>
/// </list>
/// A continuation longer than the whole context window (the harness would fail on it) is scored on the tokens
/// that fit, its last ones, and reported as truncated, so one overlong answer does not stop a whole evaluation
/// of a small-context model.
/// </summary>
public sealed class RequestEncoder(TextTokenizer tokenizer, int maxLength)
{
    public int MaxLength { get; } = maxLength;

    /// <summary>Context and continuation tokens before truncation.</summary>
    public (int[] Context, int[] Continuation) EncodePair(string context, string continuation)
    {
        string trimmed = context.TrimEnd();
        if (trimmed.Length < context.Length)
        {
            continuation = context[trimmed.Length..] + continuation;
            context = trimmed;
        }
        if (context.Length == 0) return ([EndOfText()], tokenizer.Encode(continuation));
        int[] whole = tokenizer.Encode(context + continuation);
        int contextLength = tokenizer.Encode(context).Length;
        return (whole[..contextLength], whole[contextLength..]);
    }

    /// <param name="source">The question's file and line, for errors.</param>
    public EncodedRequest Encode(LoglikelihoodRequest request, string source = "")
    {
        var (context, continuation) = EncodePair(request.Context, request.Continuation);
        if (continuation.Length == 0)
            throw new UserError($"{source}: continuation {Quote(request.Continuation)} encodes to no tokens");
        int[] full = [.. context, .. continuation];
        int keep = Math.Min(full.Length, MaxLength + 1);
        int scored = Math.Min(continuation.Length, keep - 1);
        return new EncodedRequest(full[(full.Length - keep)..^1], continuation[(continuation.Length - scored)..],
            DroppedContextTokens: context.Length - Math.Max(0, keep - continuation.Length),
            DroppedContinuationTokens: continuation.Length - scored);
    }

    int EndOfText() => tokenizer.EndOfTextId
        ?? throw new UserError("an empty context needs the tokenizer's end-of-text token, and this tokenizer has none");

    static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
