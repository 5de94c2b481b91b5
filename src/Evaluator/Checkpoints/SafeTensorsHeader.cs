using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NasPrune.Common;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// The JSON header of a safetensors file: parsing with validation, and serialization for the writer.
/// </summary>
/// <remarks>
/// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data section. Every offset
/// in the JSON is relative to the start of the data section, i.e. to byte 8 + N of the file.
/// </remarks>
internal sealed class SafeTensorsHeader
{
    /// <summary>The key under which the header keeps string-to-string metadata rather than a tensor.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>
    /// The same cap as the reference implementation: a header this large means a corrupt length, and
    /// checking first keeps us from allocating gigabytes because of eight bad bytes.
    /// </summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafeTensorsHeader(
        IReadOnlyDictionary<string, SafeTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata, long dataStart)
    {
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
    }

    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Absolute file position of the data section (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>Reads and validates the header; leaves <paramref name="file"/> positioned after it.</summary>
    /// <param name="file">An open, seekable stream over the whole file.</param>
    /// <param name="path">The file's path, only for error messages.</param>
    public static SafeTensorsHeader Read(Stream file, string path)
    {
        long fileLength = file.Length;
        if (fileLength < 8)
            throw new UserError($"{path}: not a safetensors file: it has {fileLength} bytes, fewer than the 8-byte header length");

        file.Position = 0;
        Span<byte> lengthBytes = stackalloc byte[8];
        file.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new UserError($"{path}: header length {headerLength} is larger than the rest of the file ({fileLength - 8} bytes): truncated or not a safetensors file");
        if (headerLength > MaxHeaderBytes)
            throw new UserError($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit: not a safetensors file");

        var json = new byte[headerLength];
        file.ReadExactly(json);
        long dataStart = 8 + (long)headerLength;
        return Parse(json, path, dataLength: fileLength - dataStart, dataStart);
    }

    private static SafeTensorsHeader Parse(byte[] json, string path, long dataLength, long dataStart)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new UserError($"{path}: header is not valid JSON: {OneLine(e.Message)}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new UserError($"{path}: header is JSON {document.RootElement.ValueKind}, expected an object");

            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                // JsonDocument keeps duplicate keys; a second entry would silently shadow the first.
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata)
                        throw new UserError($"{path}: header has '{MetadataKey}' twice");
                    sawMetadata = true;
                    ParseMetadata(property.Value, path, metadata);
                }
                else if (!tensors.TryAdd(property.Name, ParseTensor(property.Name, property.Value, path, dataLength)))
                {
                    throw new UserError($"{path}: tensor '{property.Name}' appears twice in the header");
                }
            }

            CheckNoOverlap(tensors, path);
            return new SafeTensorsHeader(tensors, metadata, dataStart);
        }
    }

    private static void ParseMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        // The format (and the Python loader) only allows string values; anything else is a broken writer.
        if (value.ValueKind != JsonValueKind.Object)
            throw new UserError($"{path}: '{MetadataKey}' is JSON {value.ValueKind}, expected an object of strings");
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new UserError($"{path}: '{MetadataKey}' field '{entry.Name}' is JSON {entry.Value.ValueKind}, expected a string");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafeTensorInfo ParseTensor(string name, JsonElement value, string path, long dataLength)
    {
        string where = $"{path}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new UserError($"{where}: entry is JSON {value.ValueKind}, expected an object");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new UserError($"{where}: missing or non-string 'dtype'");
        string dtype = dtypeElement.GetString()!;
        if (!SafeTensorsDType.IsKnown(dtype))
            throw new UserError($"{where}: unknown dtype \"{dtype}\"");

        long[] shape = ReadInt64Array(value, "shape", where);
        long[] offsets = ReadInt64Array(value, "data_offsets", where);
        if (offsets.Length != 2)
            throw new UserError($"{where}: 'data_offsets' has {offsets.Length} numbers, expected [begin, end]");
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw new UserError($"{where}: data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw new UserError($"{where}: data_offsets [{begin}, {end}] run past the end of the data section ({dataLength} bytes): the file is truncated or corrupt");

        long expectedBytes;
        try
        {
            expectedBytes = checked(shape.Aggregate(1L, (product, dim) => product * dim) * SafeTensorsDType.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new UserError($"{where}: shape [{string.Join(", ", shape)}] is too large");
        }
        if (end - begin != expectedBytes)
            throw new UserError($"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {expectedBytes}");

        return new SafeTensorInfo(dtype, shape, begin, end);
    }

    private static long[] ReadInt64Array(JsonElement entry, string field, string where)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw new UserError($"{where}: missing or non-array '{field}'");
        var result = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long number) || number < 0)
                throw new UserError($"{where}: '{field}' holds {item.GetRawText()}, expected non-negative integers");
            result[i++] = number;
        }
        return result;
    }

    /// <summary>
    /// Two tensors sharing bytes would alias each other once loaded (or signal a corrupt header), so refuse.
    /// Empty tensors occupy no bytes and may sit anywhere.
    /// </summary>
    private static void CheckNoOverlap(Dictionary<string, SafeTensorInfo> tensors, string path)
    {
        var ranges = tensors.Where(t => t.Value.ByteLength > 0).OrderBy(t => t.Value.Begin).ToList();
        for (int i = 1; i < ranges.Count; i++)
        {
            var (previousName, previous) = ranges[i - 1];
            var (name, current) = ranges[i];
            if (current.Begin < previous.End)
                throw new UserError($"{path}: tensor '{name}': data_offsets [{current.Begin}, {current.End}] overlap tensor '{previousName}' [{previous.Begin}, {previous.End}]");
        }
    }

    /// <summary>
    /// Serializes a header for tensors already laid out (offsets assigned) in <paramref name="tensors"/> order,
    /// with '__metadata__' first, as the reference writer does.
    /// </summary>
    /// <returns>The UTF-8 JSON padded with spaces so that 8 + its length is a multiple of 8: the data section
    /// then starts 8-byte aligned, which memory-mapping readers rely on.</returns>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, SafeTensorInfo>> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (metadata.Count > 0)
            {
                writer.WriteStartObject(MetadataKey);
                // Sorted so the bytes do not depend on the caller's dictionary order.
                foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                    writer.WriteString(key, value);
                writer.WriteEndObject();
            }
            foreach (var (name, info) in tensors)
            {
                writer.WriteStartObject(name);
                writer.WriteString("dtype", info.DType);
                writer.WriteStartArray("shape");
                foreach (long dim in info.Shape)
                    writer.WriteNumberValue(dim);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(info.Begin);
                writer.WriteNumberValue(info.End);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }

        int padding = (int)((8 - buffer.Length % 8) % 8);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        return buffer.ToArray();
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
