using System.Buffers.Binary;
using NasPrune.Common;
using TorchSharp;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// Reads and writes one Hugging Face safetensors file.
/// </summary>
/// <remarks>
/// Format: 8-byte little-endian header length N; N bytes of UTF-8 JSON mapping each tensor name to
/// {"dtype", "shape", "data_offsets": [begin, end]} plus an optional "__metadata__" object of strings; then
/// the raw little-endian tensor data, offsets relative to its start. Checkpoints run to many gigabytes, so
/// reading goes tensor by tensor, straight from the file into each tensor's storage, and never holds the
/// file (or even one tensor) in a managed array.
/// </remarks>
public static class SafeTensorsFile
{
    /// <summary>The metadata written when the caller gives none: transformers refuses files without a
    /// "format" it knows.</summary>
    public static readonly IReadOnlyDictionary<string, string> DefaultMetadata =
        new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>Reads and validates the header: each tensor's dtype, shape and byte range.</summary>
    /// <exception cref="UserError">The file is missing, truncated or malformed; the message names the file
    /// and, where one is at fault, the tensor.</exception>
    public static IReadOnlyDictionary<string, SafeTensorInfo> ReadHeader(string path)
    {
        using var file = OpenRead(path);
        return SafeTensorsHeader.Read(file, path).Tensors;
    }

    /// <summary>Reads the header's "__metadata__" strings (empty if it has none).</summary>
    /// <exception cref="UserError">As for <see cref="ReadHeader"/>.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var file = OpenRead(path);
        return SafeTensorsHeader.Read(file, path).Metadata;
    }

    /// <summary>Loads the tensors of a safetensors file.</summary>
    /// <param name="path">The .safetensors file.</param>
    /// <param name="filter">Which tensor names to load; null loads all. Tensors left out are never read.</param>
    /// <param name="castTo">Element type to convert to; null keeps each tensor's stored dtype.</param>
    /// <param name="device">Where the tensors end up; null leaves them on the CPU.</param>
    /// <returns>New tensors the caller owns (and must dispose, or let an enclosing dispose scope do so).</returns>
    /// <exception cref="UserError">The file is missing, truncated or malformed, or a selected tensor has a
    /// dtype TorchSharp cannot hold.</exception>
    public static Dictionary<string, torch.Tensor> Load(
        string path, Func<string, bool>? filter = null, torch.ScalarType? castTo = null, torch.Device? device = null)
    {
        using var file = OpenRead(path);
        var header = SafeTensorsHeader.Read(file, path);
        var loaded = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        try
        {
            // File order: the reads then move forward through the file, which the OS read-ahead likes.
            foreach (var (name, info) in header.Tensors.Where(t => filter is null || filter(t.Key)).OrderBy(t => t.Value.Begin))
                loaded.Add(name, ReadTensor(file, header.DataStart, name, info, castTo, device, path));
        }
        catch
        {
            foreach (var tensor in loaded.Values)
                tensor.Dispose();
            throw;
        }
        return loaded;
    }

    private static torch.Tensor ReadTensor(
        FileStream file, long dataStart, string name, SafeTensorInfo info,
        torch.ScalarType? castTo, torch.Device? device, string path)
    {
        if (!SafeTensorsDType.TryGetScalarType(info.DType, out var storedType))
            throw new UserError($"{path}: tensor '{name}': dtype {info.DType} is not supported by TorchSharp");

        // The scope disposes the CPU staging tensor when a cast or device move replaces it.
        using var scope = torch.NewDisposeScope();
        var tensor = torch.empty(info.Shape.ToArray(), storedType);
        file.Position = dataStart + info.Begin;
        try
        {
            TensorBytes.ReadInto(file, tensor);
        }
        catch (EndOfStreamException e)
        {
            // The header check guarantees the bytes were there; only a file shrinking under us gets here.
            throw new UserError($"{path}: tensor '{name}': file ended inside its data: truncated while being read", e);
        }

        var targetType = castTo ?? storedType;
        bool moveDevice = device is not null && device.type != DeviceType.CPU;
        if (targetType != storedType || moveDevice)
            tensor = tensor.to(targetType, device ?? torch.CPU);
        return tensor.MoveToOuterDisposeScope();
    }

    /// <summary>Writes <paramref name="tensors"/> as one safetensors file, replacing <paramref name="path"/>
    /// atomically (readers never see a half-written file).</summary>
    /// <param name="path">Target file; its directory is created if missing.</param>
    /// <param name="tensors">Tensors on any device, contiguous or not; they are not modified.</param>
    /// <param name="metadata">Header "__metadata__"; null writes {"format": "pt"}, and "format" is added
    /// as "pt" when missing because transformers will not load a file without it.</param>
    /// <remarks>The same tensors always give the same bytes: data is ordered by element size (largest first)
    /// and then by name, as the reference writer does. Keeping the larger types first means every tensor
    /// starts at a multiple of its element size, which readers that view the mapped file in place
    /// (torch's frombuffer/view(dtype)) require; in a single-dtype checkpoint the order is plain name order.</remarks>
    /// <exception cref="ArgumentException">A tensor is named "__metadata__" or has a dtype safetensors cannot store.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var layout = Layout(tensors);
        var header = SafeTensorsHeader.Serialize(
            layout.Select(entry => KeyValuePair.Create(entry.Name, entry.Info)), WithFormat(metadata));

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (name, _) in layout)
                WriteTensorData(stream, tensors[name]);
        });
    }

    /// <summary>Bytes a tensor's data occupies in a safetensors file.</summary>
    public static long ByteSize(torch.Tensor tensor) => tensor.numel() * tensor.element_size();

    private static List<(string Name, SafeTensorInfo Info)> Layout(IReadOnlyDictionary<string, torch.Tensor> tensors)
    {
        var ordered = tensors
            .Select(t => (t.Key, t.Value, DType: SafeTensorsDType.FromScalarType(t.Value.dtype)))
            .OrderByDescending(t => SafeTensorsDType.ElementSize(t.DType))
            .ThenBy(t => t.Key, StringComparer.Ordinal);

        var layout = new List<(string, SafeTensorInfo)>(tensors.Count);
        long offset = 0;
        foreach (var (name, tensor, dtype) in ordered)
        {
            if (name == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"a tensor cannot be named '{SafeTensorsHeader.MetadataKey}'", nameof(tensors));
            long size = ByteSize(tensor);
            layout.Add((name, new SafeTensorInfo(dtype, tensor.shape, offset, offset + size)));
            offset += size;
        }
        return layout;
    }

    private static IReadOnlyDictionary<string, string> WithFormat(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
            return DefaultMetadata;
        if (metadata.ContainsKey("format"))
            return metadata;
        var withFormat = new Dictionary<string, string>(metadata.Count + 1, StringComparer.Ordinal) { ["format"] = "pt" };
        foreach (var (key, value) in metadata)
            withFormat[key] = value;
        return withFormat;
    }

    private static void WriteTensorData(Stream stream, torch.Tensor tensor)
    {
        // The scope disposes the CPU/contiguous copy, if one is needed; the caller's tensor is left alone.
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        var contiguous = cpu.is_contiguous() ? cpu : cpu.contiguous();
        TensorBytes.WriteFrom(stream, contiguous);
    }

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserError($"{path}: file not found", e);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UserError($"{path}: cannot open: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }
}
