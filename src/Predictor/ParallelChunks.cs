namespace NasPrune.Predictor;

/// <summary>
/// Splits a large batch into contiguous chunks over the cores (the search scores tens of thousands of candidates
/// at once); small batches (the active loop's hundreds of pairs) stay on the calling thread, where a thread hop
/// would cost more than the work.
/// </summary>
static class ParallelChunks
{
    const int MinParallel = 4096;

    public static void For(int count, Action<int, int> body)
    {
        int chunks = Math.Min(Environment.ProcessorCount, count / (MinParallel / 2));
        if (chunks <= 1) { body(0, count); return; }
        Parallel.For(0, chunks, c => body((int)((long)count * c / chunks), (int)((long)count * (c + 1) / chunks)));
    }
}
