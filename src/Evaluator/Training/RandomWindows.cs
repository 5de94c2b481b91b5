namespace NasPrune.Evaluator.Training;

/// <summary>
/// A training batch of windows cut at random positions of a token stream, row-major [batch × seqLen]. The positions
/// come from the caller's seeded generator, so a run's batches are reproducible. Used by pre-training and LoRA.
/// </summary>
public static class RandomWindows
{
    public static long[] Batch(Random random, IReadOnlyList<int> tokens, int batchSize, int seqLen)
    {
        var batch = new long[batchSize * seqLen];
        for (int b = 0; b < batchSize; b++)
        {
            int start = random.Next(tokens.Count - seqLen);
            for (int i = 0; i < seqLen; i++) batch[b * seqLen + i] = tokens[start + i];
        }
        return batch;
    }
}
