namespace NasPrune.Evaluator.Export;

/// <summary>GGUF metadata value types, numbered as in ggml's <c>gguf.md</c> (<c>gguf_metadata_value_type</c>).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One typed metadata value. GGUF readers check the stored type of a key (llama.cpp refuses a uint32 where it
/// expects an int32 array), so the type is explicit rather than inferred from the C# value.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue U32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue I32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue U64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue F32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue F64(double v) => new(GgufValueType.Float64, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue Str(string v) => new(GgufValueType.String, v);
    public static GgufValue I32Array(IReadOnlyList<int> v) => new(GgufValueType.Array, v, GgufValueType.Int32);
    public static GgufValue F32Array(IReadOnlyList<float> v) => new(GgufValueType.Array, v, GgufValueType.Float32);
    public static GgufValue StrArray(IReadOnlyList<string> v) => new(GgufValueType.Array, v, GgufValueType.String);
}
