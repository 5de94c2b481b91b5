using System.Diagnostics;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Perplexity;

/// <summary>What was measured and under which protocol (every result records its protocol).</summary>
public sealed record PerplexityResult(
    string Task, string Split, int SeqLen, int Windows, long Tokens, double Nll, double Ppl, double Seconds,
    string? Tokenizer = null, string? ModelHash = null, string? Text = null);

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
        var (nll, tokens) = Score(model, windows, batchSize, progress);
        double mean = nll / tokens;
        return new PerplexityResult(task, split, seqLen, windows.Length, tokens, mean, Math.Exp(mean), watch.Elapsed.TotalSeconds);
    }
}
