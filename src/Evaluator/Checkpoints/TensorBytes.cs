using TorchSharp;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// Copies between a stream and a CPU tensor's native storage without a managed copy of the data.
/// </summary>
/// <remarks>
/// TorchSharp's <c>Tensor.bytes</c> getter returns a <see cref="Span{T}"/> over the tensor's native memory
/// (a contiguous CPU tensor's data pointer, storage offset included), so a stream can read straight into the
/// tensor or write straight out of it. A span holds at most int.MaxValue bytes, and one embedding matrix in
/// F32 can be larger, so big tensors are handled as a flat view narrowed into chunks; each chunk is
/// contiguous and its own span points at the right place in the shared storage.
/// </remarks>
internal static class TensorBytes
{
    /// <summary>Default chunk: well under the span limit, and big enough that per-chunk overhead vanishes.</summary>
    public const long DefaultChunkBytes = 1L << 30;

    private delegate void SpanAction(Span<byte> span);

    /// <summary>Fills <paramref name="tensor"/> with exactly its byte size from <paramref name="source"/>.</summary>
    /// <exception cref="EndOfStreamException">The stream ended first.</exception>
    public static void ReadInto(Stream source, torch.Tensor tensor, long chunkBytes = DefaultChunkBytes) =>
        ForEachChunk(tensor, chunkBytes, span => source.ReadExactly(span));

    /// <summary>Writes the raw bytes of <paramref name="tensor"/> (native byte order, i.e. little-endian on
    /// every platform TorchSharp ships for) to <paramref name="destination"/>.</summary>
    public static void WriteFrom(Stream destination, torch.Tensor tensor, long chunkBytes = DefaultChunkBytes) =>
        ForEachChunk(tensor, chunkBytes, span => destination.Write(span));

    private static void ForEachChunk(torch.Tensor tensor, long chunkBytes, SpanAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new ArgumentException("tensor must be a contiguous CPU tensor", nameof(tensor));
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);

        long count = tensor.numel();
        if (count == 0)
            return;
        long elementsPerChunk = Math.Max(1, Math.Min(chunkBytes, int.MaxValue) / tensor.element_size());
        if (count <= elementsPerChunk)
        {
            action(tensor.bytes);
            return;
        }

        using var flat = tensor.view(-1);
        for (long start = 0; start < count; start += elementsPerChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(elementsPerChunk, count - start));
            action(chunk.bytes);
        }
    }
}
