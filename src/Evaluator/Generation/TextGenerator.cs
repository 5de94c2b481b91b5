using NasPrune.Common;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// Autoregressive generation with a key/value cache: the prompt is run once (prefill), then each step feeds only
/// the newest token, so a step costs one token's forward pass instead of the whole sequence's.
/// </summary>
public static class TextGenerator
{
    public sealed record Result(IReadOnlyList<int> Tokens, bool StoppedAtEndOfText, double PrefillSeconds, double DecodeSeconds);

    /// <param name="onToken">called with each generated id as soon as it is chosen (streaming)</param>
    /// <param name="endOfText">generation stops after this id (not reported); null never stops early</param>
    /// <param name="fused">decode steps through <see cref="FusedDecoder"/> when the model allows it (false: the
    /// evaluation forward pass for every step, as a reference)</param>
    public static Result Generate(LlamaForCausalLM model, IReadOnlyList<int> prompt, int maxNewTokens, TokenSampler sampler,
        int? endOfText = null, Action<int>? onToken = null, bool fused = true)
    {
        if (prompt.Count == 0) throw new UserError("the prompt has no tokens");
        if (maxNewTokens <= 0) throw new UserError($"--max-new-tokens {maxNewTokens}: must be positive");
        int context = model.Config.MaxPositionEmbeddings;
        // The last new token is never fed back, so it needs no position of its own.
        if (prompt.Count + maxNewTokens - 1 > context)
            throw new UserError($"prompt of {prompt.Count} tokens + {maxNewTokens} new tokens exceeds the model's context of {context}");

        using var _ = inference_mode();
        var device = model.model.embed_tokens.weight!.device;
        using var cache = new KvCache(model, batch: 1, capacity: prompt.Count + maxNewTokens - 1);
        // Built before the clock starts: laying out the weights is set-up, like loading them.
        using var decoder = fused && maxNewTokens > 1 && FusedDecoder.Unsupported(model) is null ? new FusedDecoder(model) : null;
        var tokens = new List<int>(maxNewTokens);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double prefill = 0;
        long[] input = prompt.Select(t => (long)t).ToArray();
        bool stopped = false;
        while (true)
        {
            int next;
            using (var scope = NewDisposeScope())
            {
                var logits = decoder is not null && tokens.Count > 0
                    ? decoder.NextTokenLogits((int)input[0], cache).cpu()
                    : model.NextTokenLogits(tensor(input, [1, input.Length], device: device), cache).to_type(ScalarType.Float32).cpu();
                next = sampler.Next(logits.data<float>().ToArray());
            }
            if (tokens.Count == 0) prefill = clock.Elapsed.TotalSeconds;
            if (next == endOfText) { stopped = true; break; }
            tokens.Add(next);
            onToken?.Invoke(next);
            if (tokens.Count == maxNewTokens) break;
            input = [next];
        }
        return new Result(tokens, stopped, prefill, clock.Elapsed.TotalSeconds - prefill);
    }
}
