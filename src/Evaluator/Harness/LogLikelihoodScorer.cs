using NasPrune.Evaluator.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Evaluator.Harness;

/// <summary>How requests are grouped into forward passes.</summary>
public enum ScoringMode
{
    /// <summary>
    /// All choices of a question in the same forward pass, several questions per pass. Requests whose input is a
    /// prefix of another's share its row (MMLU's four one-token letters read one row: the prompt runs once).
    /// </summary>
    Batched,

    /// <summary>One forward pass per continuation, nothing shared: the plain reference, for checks and timing.</summary>
    OneForwardPerContinuation,
}

/// <summary>Per-choice log-likelihoods of one question and the harness's two predictions from them.</summary>
/// <param name="TruncatedRequests">Requests cut to fit the model (their context lost its beginning).</param>
/// <param name="TruncatedContinuations">Requests whose continuation alone exceeded the context, scored on its last tokens.</param>
public sealed record ItemScore(IReadOnlyList<double> LogLikelihoods, int Prediction, int NormalizedPrediction,
    int TruncatedRequests, int TruncatedContinuations = 0);

/// <summary>
/// Log-likelihood multiple-choice scoring, as lm-evaluation-harness does it: the score of a choice is the sum of
/// its continuation tokens' log-probabilities given the context (tokenized by <see cref="RequestEncoder"/>).
/// </summary>
/// <remarks>
/// Rows are right-padded: attention is causal, so padding after a row's end never changes the positions that are
/// read. Only the positions that predict continuation tokens go through the output projection, so a large
/// vocabulary costs [continuation tokens, vocab] rather than [rows, seq, vocab].
/// </remarks>
public sealed class LogLikelihoodScorer(LlamaForCausalLM model, RequestEncoder encoder,
    int rowsPerForward = 8, ScoringMode mode = ScoringMode.Batched)
{
    /// <summary>Positions sent through the output projection at once (bounds memory for 128k vocabularies).</summary>
    const int ProjectionChunk = 1024;

    public RequestEncoder Encoder => encoder;

    /// <summary>Scores every item; reports the number of items finished after each forward pass.</summary>
    public IReadOnlyList<ItemScore> Score(IReadOnlyList<MultipleChoiceItem> items, IProgress<int>? progress = null)
    {
        var encoded = items.Select(item => item.Requests.Select(r => encoder.Encode(r, item.Source)).ToArray()).ToArray();
        var logLikelihoods = items.Select(item => new double[item.Requests.Count]).ToArray();
        var rows = encoded.Select((requests, i) => mode == ScoringMode.Batched
            ? SharedRows(i, requests)
            : requests.Select((r, c) => new Row(i, r.Input, [c])).ToList()).ToArray();
        var rowsLeft = rows.Select(r => r.Count).ToArray();
        using var _ = inference_mode();
        int done = 0;
        foreach (var batch in Batches(rows))
        {
            Run(batch, encoded, logLikelihoods);
            foreach (var row in batch)
                if (--rowsLeft[row.Item] == 0) done++;
            progress?.Report(done);
        }
        return items.Select((item, i) => new ItemScore(logLikelihoods[i],
            ChoiceMetrics.Prediction(logLikelihoods[i]),
            ChoiceMetrics.NormalizedPrediction(logLikelihoods[i], item.Choices),
            encoded[i].Count(e => e.Truncated), encoded[i].Count(e => e.DroppedContinuationTokens > 0))).ToList();
    }

    /// <summary>One row of a forward pass and the requests (item, choice) read from it.</summary>
    sealed record Row(int Item, int[] Tokens, List<int> Choices);

    /// <summary>
    /// Rows grouped into forward passes. Batched: a question's rows always travel together, several questions per
    /// pass, longest first (as the harness sorts), which keeps the padding of each pass small. One forward per
    /// continuation: every row alone, in order.
    /// </summary>
    IEnumerable<List<Row>> Batches(List<Row>[] rows)
    {
        if (mode == ScoringMode.OneForwardPerContinuation)
        {
            foreach (var row in rows.SelectMany(r => r)) yield return [row];
            yield break;
        }
        var batch = new List<Row>();
        foreach (var itemRows in rows.OrderByDescending(r => r.Max(row => row.Tokens.Length)))
        {
            if (batch.Count > 0 && batch.Count + itemRows.Count > rowsPerForward)
            {
                yield return batch;
                batch = [];
            }
            batch.AddRange(itemRows);
        }
        if (batch.Count > 0) yield return batch;
    }

    /// <summary>
    /// The rows one question needs: a request whose input is a prefix of another's reads that row, since a causal
    /// model's outputs at a position depend only on the tokens up to it.
    /// </summary>
    static List<Row> SharedRows(int item, EncodedRequest[] requests)
    {
        var rows = new List<Row>();
        foreach (int c in Enumerable.Range(0, requests.Length).OrderByDescending(c => requests[c].Input.Length))
        {
            var input = requests[c].Input;
            var row = rows.FirstOrDefault(r => r.Tokens.AsSpan().StartsWith(input));
            if (row is null) rows.Add(new Row(item, input, [c]));
            else row.Choices.Add(c);
        }
        return rows;
    }

    /// <summary>One forward pass over <paramref name="rows"/>; adds each request's summed log-probability.</summary>
    void Run(List<Row> rows, EncodedRequest[][] encoded, double[][] logLikelihoods)
    {
        using var scope = NewDisposeScope();
        var device = model.model.embed_tokens.weight!.device;
        int seq = rows.Max(r => r.Tokens.Length);
        var ids = new long[rows.Count * seq]; // padding id 0: never attended to by the positions read
        for (int r = 0; r < rows.Count; r++)
            for (int t = 0; t < rows[r].Tokens.Length; t++) ids[r * seq + t] = rows[r].Tokens[t];

        // Which flattened positions predict which tokens, and which request each belongs to.
        var positions = new List<long>();
        var targets = new List<long>();
        var owners = new List<(int Item, int Choice)>();
        for (int r = 0; r < rows.Count; r++)
        {
            foreach (int c in rows[r].Choices)
            {
                var request = encoded[rows[r].Item][c];
                for (int j = 0; j < request.Continuation.Length; j++)
                {
                    positions.Add((long)r * seq + request.FirstPredictingPosition + j);
                    targets.Add(request.Continuation[j]);
                    owners.Add((rows[r].Item, c));
                }
            }
        }

        var hidden = model.model.call(tensor(ids, [rows.Count, seq]).to(device)).reshape(-1, model.Config.HiddenSize);
        var picked = hidden.index_select(0, tensor(positions.ToArray()).to(device));
        var targetIds = tensor(targets.ToArray()).to(device);
        // The output projection: lm_head, or the embedding matrix when the model ties them.
        var head = model.lm_head?.weight ?? model.model.embed_tokens.weight!;
        for (int start = 0; start < positions.Count; start += ProjectionChunk)
        {
            using var chunkScope = NewDisposeScope();
            int n = Math.Min(ProjectionChunk, positions.Count - start);
            var logits = F.linear(picked.narrow(0, start, n), head).to_type(ScalarType.Float32);
            var logProbs = logits.log_softmax(-1).gather(1, targetIds.narrow(0, start, n).unsqueeze(1)).squeeze(1);
            var values = logProbs.cpu().data<float>().ToArray();
            for (int k = 0; k < n; k++)
            {
                var (item, choice) = owners[start + k];
                logLikelihoods[item][choice] += values[k];
            }
        }
    }
}
