using System.Buffers.Binary;
using NasPrune.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// A tensor to be written whose data is made only when its turn comes: the header needs just its dtype and
/// shape, so a checkpoint of many gigabytes is written holding one tensor at a time (synthetic checkpoints,
/// Phi-3's re-fused projections).
/// </summary>
/// <param name="Name">Tensor name in the file.</param>
/// <param name="DType">Element type the data will have.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Produce">Makes the tensor (any device, contiguous or not); it is disposed after writing.</param>
public sealed record PendingTensor(string Name, ScalarType DType, long[] Shape, Func<Tensor> Produce)
{
    public long ByteSize => Shape.Aggregate(1L, (a, b) => a * b) * SafeTensorsDType.ElementSize(SafeTensorsDType.FromScalarType(DType));
}

/// <summary>
/// Checkpoint reads and writes that hold at most one tensor beyond what the caller keeps: a reader that hands
/// each stored tensor to a callback and frees it, and a writer of <see cref="PendingTensor"/>s. Files are the
/// same bytes <see cref="SafeTensorsFile.Save"/> and <see cref="ShardedSafeTensors.Save"/> write (same order,
/// same shard plan, same index).
/// </summary>
public static class StreamedTensors
{
    /// <summary>
    /// Calls <paramref name="visit"/> with every tensor of the checkpoint in <paramref name="directory"/> (single
    /// file or shards), in file order, each read into a fresh CPU tensor of its stored dtype that is disposed
    /// when the callback returns. <paramref name="source"/> names the file a tensor came from, for messages.
    /// </summary>
    public static void ForEach(string directory, Action<string, Tensor, string> visit)
    {
        string single = Path.Combine(directory, CheckpointTensors.SingleFileName);
        if (File.Exists(single)) { ForEachInFile(single, null, visit); return; }
        string index = Path.Combine(directory, ShardedSafeTensors.IndexFileName);
        if (!File.Exists(index))
            throw new UserError($"no {CheckpointTensors.SingleFileName} or {ShardedSafeTensors.IndexFileName} in {directory}");
        var map = ShardedSafeTensors.ReadWeightMap(index);
        foreach (var shard in map.GroupBy(kv => kv.Value).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            string path = Path.Combine(directory, shard.Key);
            if (!File.Exists(path))
                throw new UserError($"{index}: shard {shard.Key} is missing (it should hold tensor '{shard.Select(kv => kv.Key).Order(StringComparer.Ordinal).First()}')");
            var wanted = shard.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            ForEachInFile(path, wanted, visit);
        }
    }

    static void ForEachInFile(string path, HashSet<string>? wanted, Action<string, Tensor, string> visit)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var header = SafeTensorsHeader.Read(file, path);
        if (wanted is not null)
            foreach (var name in wanted.Order(StringComparer.Ordinal))
                if (!header.Tensors.ContainsKey(name))
                    throw new UserError($"{path}: tensor '{name}' is mapped to this shard by the index, which it does not contain");
        foreach (var (name, info) in header.Tensors.Where(t => wanted is null || wanted.Contains(t.Key)).OrderBy(t => t.Value.Begin))
        {
            if (!SafeTensorsDType.TryGetScalarType(info.DType, out var type))
                throw new UserError($"{path}: tensor '{name}': dtype {info.DType} is not supported by TorchSharp");
            using var tensor = empty(info.Shape.ToArray(), type);
            file.Position = header.DataStart + info.Begin;
            try { TensorBytes.ReadInto(file, tensor); }
            catch (EndOfStreamException e) { throw new UserError($"{path}: tensor '{name}': file ended inside its data: truncated while being read", e); }
            visit(name, tensor, path);
        }
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="directory"/> as <see cref="CheckpointTensors.SaveDirectory"/>
    /// does (one model.safetensors up to <paramref name="maxShardBytes"/>, else shards and an index; stale weights
    /// of the other layout removed), making and freeing one tensor at a time.
    /// </summary>
    public static void SaveDirectory(string directory, IReadOnlyList<PendingTensor> tensors, long maxShardBytes = CheckpointTensors.DefaultMaxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        Directory.CreateDirectory(directory);
        long total = tensors.Sum(t => t.ByteSize);
        if (total <= maxShardBytes)
        {
            WriteFile(Path.Combine(directory, CheckpointTensors.SingleFileName), tensors);
            CheckpointTensors.DeleteShards(directory, keep: []);
            File.Delete(Path.Combine(directory, ShardedSafeTensors.IndexFileName));
            return;
        }
        // The shard plan of ShardedSafeTensors.Save: greedy in name order.
        var shards = new List<List<PendingTensor>> { new() };
        long current = 0;
        foreach (var t in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            if (shards[^1].Count > 0 && current + t.ByteSize > maxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(t);
            current += t.ByteSize;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var names = new List<string>();
        for (int i = 0; i < shards.Count; i++)
        {
            string name = ShardedSafeTensors.ShardFileName(i + 1, shards.Count);
            WriteFile(Path.Combine(directory, name), shards[i]);
            foreach (var t in shards[i]) weightMap[t.Name] = name;
            names.Add(name);
        }
        AtomicFile.Write(Path.Combine(directory, ShardedSafeTensors.IndexFileName), s => ShardedSafeTensors.WriteIndex(s, total, weightMap));
        File.Delete(Path.Combine(directory, CheckpointTensors.SingleFileName));
        CheckpointTensors.DeleteShards(directory, keep: names.ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>One safetensors file, data in <see cref="SafeTensorsFile.Save"/>'s order (element size descending, then name).</summary>
    static void WriteFile(string path, IReadOnlyList<PendingTensor> tensors)
    {
        var ordered = tensors
            .Select(t => (T: t, DType: SafeTensorsDType.FromScalarType(t.DType)))
            .OrderByDescending(t => SafeTensorsDType.ElementSize(t.DType))
            .ThenBy(t => t.T.Name, StringComparer.Ordinal)
            .ToList();
        var layout = new List<KeyValuePair<string, SafeTensorInfo>>();
        long offset = 0;
        foreach (var (t, dtype) in ordered)
        {
            layout.Add(KeyValuePair.Create(t.Name, new SafeTensorInfo(dtype, t.Shape, offset, offset + t.ByteSize)));
            offset += t.ByteSize;
        }
        var header = SafeTensorsHeader.Serialize(layout, SafeTensorsFile.DefaultMetadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (t, _) in ordered)
            {
                using var scope = NewDisposeScope();
                var tensor = t.Produce();
                if (tensor.dtype != t.DType || !tensor.shape.SequenceEqual(t.Shape))
                    throw new InvalidOperationException($"tensor '{t.Name}' was announced as {t.DType} [{string.Join(",", t.Shape)}] but made as {tensor.dtype} [{string.Join(",", tensor.shape)}]");
                var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
                TensorBytes.WriteFrom(stream, cpu.is_contiguous() ? cpu : cpu.contiguous());
            }
        });
    }
}
