using TorchSharp;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// The dtype strings of the safetensors format ("F32", "BF16", ...) and how they map to TorchSharp.
/// </summary>
/// <remarks>
/// The header reader must know the element size of every dtype the format defines, even those TorchSharp
/// cannot hold (U16, U32, U64, the F8 variants): only then can it check a tensor's byte range against its
/// shape, and a loader that filters such a tensor out can still read the rest of the file.
/// </remarks>
public static class SafeTensorsDType
{
    private sealed record Entry(int ElementSize, torch.ScalarType? ScalarType);

    private static readonly Dictionary<string, Entry> Entries = new(StringComparer.Ordinal)
    {
        ["BOOL"] = new(1, torch.ScalarType.Bool),
        ["U8"] = new(1, torch.ScalarType.Byte),
        ["I8"] = new(1, torch.ScalarType.Int8),
        ["F8_E5M2"] = new(1, null),
        ["F8_E4M3"] = new(1, null),
        ["I16"] = new(2, torch.ScalarType.Int16),
        ["U16"] = new(2, null),
        ["F16"] = new(2, torch.ScalarType.Float16),
        ["BF16"] = new(2, torch.ScalarType.BFloat16),
        ["I32"] = new(4, torch.ScalarType.Int32),
        ["U32"] = new(4, null),
        ["F32"] = new(4, torch.ScalarType.Float32),
        ["F64"] = new(8, torch.ScalarType.Float64),
        ["I64"] = new(8, torch.ScalarType.Int64),
        ["U64"] = new(8, null),
    };

    /// <summary>Whether <paramref name="dtype"/> is a dtype string the safetensors format defines.</summary>
    public static bool IsKnown(string dtype) => Entries.ContainsKey(dtype);

    /// <summary>Bytes per element of a known dtype.</summary>
    /// <exception cref="ArgumentException">The dtype is not one the format defines.</exception>
    public static int ElementSize(string dtype) =>
        Entries.TryGetValue(dtype, out var entry)
            ? entry.ElementSize
            : throw new ArgumentException($"unknown safetensors dtype \"{dtype}\"", nameof(dtype));

    /// <summary>The TorchSharp element type for a dtype string, if TorchSharp has one.</summary>
    public static bool TryGetScalarType(string dtype, out torch.ScalarType scalarType)
    {
        if (Entries.TryGetValue(dtype, out var entry) && entry.ScalarType is { } type)
        {
            scalarType = type;
            return true;
        }
        scalarType = default;
        return false;
    }

    /// <summary>The dtype string under which a tensor of <paramref name="scalarType"/> is stored.</summary>
    /// <exception cref="ArgumentException">The format has no dtype for it (complex and quantized types).</exception>
    public static string FromScalarType(torch.ScalarType scalarType)
    {
        foreach (var (name, entry) in Entries)
        {
            if (entry.ScalarType == scalarType)
                return name;
        }
        throw new ArgumentException($"safetensors has no dtype for TorchSharp {scalarType}", nameof(scalarType));
    }
}
