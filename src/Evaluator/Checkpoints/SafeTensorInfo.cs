namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// One tensor's entry in a safetensors header, already validated against the file it came from.
/// </summary>
/// <param name="DType">The format's dtype string, e.g. "BF16" (see <see cref="SafeTensorsDType"/>).</param>
/// <param name="Shape">Dimensions; empty for a 0-d (scalar) tensor.</param>
/// <param name="Begin">First byte of the data, relative to the start of the data section (after the header).</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
public sealed record SafeTensorInfo(string DType, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>Number of bytes the tensor occupies: End - Begin.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, dim) => product * dim);
}
