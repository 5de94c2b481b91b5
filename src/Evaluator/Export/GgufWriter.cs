using System.Runtime.InteropServices;
using System.Text;

namespace NasPrune.Evaluator.Export;

/// <summary>ggml tensor types this writer stores (ids from ggml's <c>ggml_type</c>).</summary>
/// <summary>ggml_type values: F32 0, F16 1, BF16 30 (ggml.h).</summary>
public enum GgufTensorType : uint { F32 = 0, F16 = 1, BF16 = 30 }

/// <summary>
/// Writes a GGUF v3 file (ggml's docs/gguf.md): little-endian header ("GGUF", version 3, tensor count, metadata
/// count), typed metadata, tensor infos (name, dimensions innermost first, type, offset into the data section),
/// then the data section, which starts and has every tensor start on a multiple of <see cref="Alignment"/>.
/// Tensors are given in PyTorch's row-major shape [rows, cols]; GGUF lists dimensions innermost first, so the
/// shape is written reversed, with the same bytes.
/// </summary>
public sealed class GgufWriter
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const uint Version = 3;
    /// <summary>The default alignment (general.alignment absent); llama.cpp maps tensors in place, so it matters.</summary>
    public const int Alignment = 32;

    // Values come from a callback at write time, so only one tensor's floats exist at once (an 8B model would not fit twice).
    sealed record TensorEntry(string Name, long[] Shape, GgufTensorType Type, Func<float[]> Data)
    {
        public long Count => Shape.Aggregate(1L, (a, b) => a * b);
    }

    readonly List<KeyValuePair<string, GgufValue>> metadata = [];
    readonly List<TensorEntry> tensors = [];

    public void Add(string key, GgufValue value)
    {
        if (metadata.Any(kv => kv.Key == key)) throw new ArgumentException($"metadata key {key} added twice");
        metadata.Add(new(key, value));
    }

    /// <summary>Adds a tensor of row-major <paramref name="shape"/> (outermost first); <paramref name="data"/> yields its float32 values when the file is written.</summary>
    public void AddTensor(string name, long[] shape, GgufTensorType type, Func<float[]> data)
    {
        if (shape.Length is 0 or > 4 || shape.Any(d => d <= 0))
            throw new ArgumentException($"tensor {name}: shape [{string.Join(", ", shape)}] is not 1 to 4 positive dimensions");
        if (tensors.Any(t => t.Name == name)) throw new ArgumentException($"tensor {name} added twice");
        tensors.Add(new TensorEntry(name, shape, type, data));
    }

    public IReadOnlyList<string> TensorNames => tensors.Select(t => t.Name).ToList();

    public void Write(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(stream);
    }

    public void Write(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }

        ulong offset = 0;
        foreach (var t in tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (long dim in t.Shape.Reverse()) w.Write((ulong)dim);
            w.Write((uint)t.Type);
            w.Write(offset);
            offset = Align(offset + ByteCount(t));
        }

        Pad(w);
        long dataStart = w.BaseStream.Position;
        foreach (var t in tensors)
        {
            var values = t.Data();
            if (values.LongLength != t.Count)
                throw new InvalidOperationException($"tensor {t.Name}: shape [{string.Join(", ", t.Shape)}] but {values.LongLength} values");
            if (t.Type == GgufTensorType.F32) w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            else if (t.Type == GgufTensorType.BF16) w.Write(MemoryMarshal.AsBytes(Array.ConvertAll(values, ToBFloat16).AsSpan()));
            else w.Write(MemoryMarshal.AsBytes(Array.ConvertAll(values, v => (Half)v).AsSpan()));
            Pad(w, dataStart);
        }
    }

    /// <summary>
    /// The bfloat16 bits of a float as ggml's GGML_FP32_TO_BF16 computes them: the upper 16 bits rounded to nearest,
    /// ties to even; a NaN stays a (quiet) NaN.
    /// </summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return (ushort)((bits >> 16) | 64);
        return (ushort)((bits + (0x7fff + ((bits >> 16) & 1))) >> 16);
    }

    static ulong ByteCount(TensorEntry t) => (ulong)t.Count * (t.Type == GgufTensorType.F32 ? 4UL : 2UL);

    static ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter w, long origin = 0)
    {
        long position = w.BaseStream.Position - origin;
        long padded = (long)Align((ulong)position);
        for (long i = position; i < padded; i++) w.Write((byte)0);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, GgufValue v)
    {
        if (v.Type != GgufValueType.Array) { WriteScalar(w, v.Type, v.Value); return; }
        var items = ((System.Collections.IEnumerable)v.Value).Cast<object>().ToList();
        w.Write((uint)v.ElementType);
        w.Write((ulong)items.Count);
        foreach (var item in items) WriteScalar(w, v.ElementType, item);
    }

    static void WriteScalar(BinaryWriter w, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(value)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(value)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(value)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(value)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(value)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(value)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(value)); break;
            case GgufValueType.Bool: w.Write((byte)((bool)value ? 1 : 0)); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(value)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(value)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(value)); break;
            default: throw new ArgumentException($"GGUF arrays of arrays are not written here ({type})");
        }
    }
}
