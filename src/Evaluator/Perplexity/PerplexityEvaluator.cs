using System.Diagnostics;
using System.Text.Json.Serialization;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Perplexity;

/// <summary>What was measured and under which protocol (every result records its protocol).</summary>
public sealed record PerplexityResult(
    string Task, string Split, int SeqLen, int Windows, long Tokens, double Nll, double Ppl, double Seconds,
    string? Tokenizer = null, string? ModelHash = null, string? Text = null)
{
    /// <summary>
    /// Summed NLL of each window, in window order, for paired bootstrap intervals (the final verification keeps them
    /// in its samples file). Not in the JSON: per-window detail would bury the figures <c>eval</c> and <c>prune</c> print.
    /// Their sum is <see cref="Nll"/> × <see cref="Tokens"/> up to float rounding (per-token losses are summed in
    /// float64 here, per chunk in float32 for the aggregate, which stays computed as before).
    /// </summary>
    [JsonIgnore] public IReadOnlyList<double>? WindowNll { get; init; }

    /// <summary>Predicted tokens of each window (seq_len − 1 each), paired with <see cref="WindowNll"/>.</summary>
    [JsonIgnore] public IReadOnlyList<long>? WindowTokens { get; init; }
}

/// <summary>
/// Perplexity as the LLM pruning papers report it: the whole split tokenized once, cut into non-overlapping
/// windows of the context length (the remainder dropped), mean next-token negative log-likelihood over all
/// predicted tokens, exponentiated. Batched, without gradients.
/// </summary>
public static class PerplexityEvaluator
{
    /// <summary>Token ids cut into windows [windows, seqLen]; the incomplete tail is dropped.</summary>
    public static long[][] Windows(IReadOnlyList<int> ids, int seqLen, int? maxWindows = null)
    {
        int count = ids.Count / seqLen;
        if (maxWindows is int m) count = Math.Min(count, m);
        var windows = new long[count][];
        for (int w = 0; w < count; w++)
        {
            var row = new long[seqLen];
            for (int i = 0; i < seqLen; i++) row[i] = ids[w * seqLen + i];
            windows[w] = row;
        }
        return windows;
    }

    /// <summary>Summed NLL and predicted-token count over windows, <paramref name="batchSize"/> windows per forward.</summary>
    public static (double Nll, long Tokens) Score(LlamaForCausalLM model, IReadOnlyList<long[]> windows, int batchSize,
        IProgress<int>? progress = null)
    {
        double nll = 0;
        long tokens = 0;
        int done = 0;
        using var _ = inference_mode();
        foreach (var batch in Batches(model, windows, batchSize))
        {
            using var input = batch;
            using var scope = NewDisposeScope();
            var (batchNll, batchTokens) = model.NextTokenNll(input);
            nll += batchNll;
            tokens += batchTokens;
            done += (int)input.shape[0];
            progress?.Report(done);
        }
        return (nll, tokens);
    }

    /// <summary>
    /// As <see cref="Score"/> (the same total, computed the same way), plus each window's summed NLL: per-token losses
    /// of the same logits, summed per window in float64.
    /// </summary>
    public static (double Nll, long Tokens, double[] WindowNll, long[] WindowTokens) ScoreWindows(LlamaForCausalLM model,
        IReadOnlyList<long[]> windows, int batchSize, IProgress<int>? progress = null)
    {
        double nll = 0;
        long tokens = 0;
        var windowNll = new double[windows.Count];
        var windowTokens = new long[windows.Count];
        int done = 0;
        using var _ = inference_mode();
        foreach (var batch in Batches(model, windows, batchSize))
        {
            using var input = batch;
            using var scope = NewDisposeScope();
            long predicted = input.shape[1] - 1;
            var hidden = model.NextTokenHidden(input);
            var targets = LlamaForCausalLM.NextTokenTargets(input);
            // The same chunks and the same summed cross-entropy as LlamaForCausalLM.NextTokenNll, so the aggregate is unchanged.
            foreach (var (start, n) in LlamaForCausalLM.Chunks(targets.shape[0], model.ChunkTokens))
            {
                using var chunkScope = NewDisposeScope();
                var logits = model.OutputLogits(hidden.narrow(0, start, n));
                var chunkTargets = targets.narrow(0, start, n);
                nll += nn.functional.cross_entropy(logits, chunkTargets, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
                var perToken = nn.functional.cross_entropy(logits, chunkTargets, reduction: nn.Reduction.None).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
                for (long t = 0; t < n; t++) windowNll[done + (int)((start + t) / predicted)] += perToken[t];
            }
            for (int b = 0; b < input.shape[0]; b++) windowTokens[done + b] = predicted;
            tokens += targets.shape[0];
            done += (int)input.shape[0];
            progress?.Report(done);
        }
        return (nll, tokens, windowNll, windowTokens);
    }

    /// <summary>
    /// Windows stacked into [n, seq] id tensors on the model's device, <paramref name="batchSize"/> at a time, made one
    /// at a time as the caller asks; the caller owns (and disposes) each.
    /// </summary>
    public static IEnumerable<Tensor> Batches(LlamaForCausalLM model, IReadOnlyList<long[]> windows, int batchSize)
    {
        var device = model.model.embed_tokens.weight!.device;
        for (int start = 0; start < windows.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, windows.Count - start);
            int seq = windows[start].Length;
            var flat = new long[n * seq];
            for (int b = 0; b < n; b++) Array.Copy(windows[start + b], 0, flat, b * seq, seq);
            Tensor batch;
            using (NewDisposeScope()) batch = tensor(flat, [n, seq]).to(device).MoveToOuterDisposeScope();
            yield return batch;
        }
    }

    public static PerplexityResult Evaluate(LlamaForCausalLM model, IReadOnlyList<int> ids, string task, string split,
        int seqLen, int batchSize = 8, int? maxWindows = null, IProgress<int>? progress = null)
    {
        var windows = Windows(ids, seqLen, maxWindows);
        if (windows.Length == 0)
            throw new Common.UserError($"{task} {split}: {ids.Count} tokens make no window of {seqLen}");
        var watch = Stopwatch.StartNew();
        var (nll, tokens, windowNll, windowTokens) = ScoreWindows(model, windows, batchSize, progress);
        double mean = nll / tokens;
        return new PerplexityResult(task, split, seqLen, windows.Length, tokens, mean, Math.Exp(mean), watch.Elapsed.TotalSeconds)
        {
            WindowNll = windowNll,
            WindowTokens = windowTokens,
        };
    }
}
