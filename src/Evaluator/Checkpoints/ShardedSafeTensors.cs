using System.Text.Json;
using NasPrune.Common;
using TorchSharp;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// A checkpoint split over several safetensors files ("shards") plus model.safetensors.index.json, as
/// Hugging Face writes models too large for one file.
/// </summary>
/// <remarks>
/// The index is <c>{"metadata": {"total_size": N}, "weight_map": {"tensor.name": "model-00001-of-00002.safetensors", ...}}</c>.
/// The weight_map is the authority on which tensors the checkpoint has: a tensor it lists must be in the
/// named shard, and anything else a shard may contain is ignored.
/// </remarks>
public static class ShardedSafeTensors
{
    /// <summary>The index file's name in a Hugging Face checkpoint directory.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>The name of shard <paramref name="number"/> (1-based) of <paramref name="count"/>, e.g.
    /// "model-00001-of-00003.safetensors", matching what transformers writes.</summary>
    public static string ShardFileName(int number, int count) => $"model-{number:D5}-of-{count:D5}.safetensors";

    /// <summary>Reads the index's weight_map: tensor name → shard file name.</summary>
    /// <exception cref="UserError">The index is missing or malformed.</exception>
    public static IReadOnlyDictionary<string, string> ReadWeightMap(string indexPath)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes(indexPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserError($"{indexPath}: file not found", e);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new UserError($"{indexPath}: not valid JSON: {e.Message.ReplaceLineEndings(" ")}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var weightMap)
                || weightMap.ValueKind != JsonValueKind.Object)
                throw new UserError($"{indexPath}: missing 'weight_map' object");

            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new UserError($"{indexPath}: weight_map entry for tensor '{entry.Name}' is JSON {entry.Value.ValueKind}, expected a shard file name");
                string shard = entry.Value.GetString()!;
                // Shards live next to the index; a path here would let an index read arbitrary files.
                if (shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or "..")
                    throw new UserError($"{indexPath}: weight_map entry for tensor '{entry.Name}' names \"{shard}\", expected a file name in the same directory");
                if (!map.TryAdd(entry.Name, shard))
                    throw new UserError($"{indexPath}: weight_map lists tensor '{entry.Name}' twice");
            }
            return map;
        }
    }

    /// <summary>Loads every tensor the index lists, shard by shard.</summary>
    /// <param name="indexPath">The model.safetensors.index.json file; shards are looked up next to it.</param>
    /// <param name="filter">Which tensor names to load; null loads all. Shards with nothing selected are
    /// still checked but not read.</param>
    /// <param name="castTo">Element type to convert to; null keeps the stored dtypes.</param>
    /// <param name="device">Where the tensors end up; null leaves them on the CPU.</param>
    /// <exception cref="UserError">The index is malformed, a shard is missing or broken, or a tensor the index
    /// lists is not in its shard; the message names the index, the shard and the tensor.</exception>
    public static Dictionary<string, torch.Tensor> Load(
        string indexPath, Func<string, bool>? filter = null, torch.ScalarType? castTo = null, torch.Device? device = null)
    {
        var weightMap = ReadWeightMap(indexPath);
        string directory = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var loaded = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var shardGroup in weightMap.GroupBy(entry => entry.Value).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                string shard = shardGroup.Key;
                string shardPath = Path.Combine(directory, shard);
                var wanted = shardGroup.Select(entry => entry.Key).ToHashSet(StringComparer.Ordinal);

                // Check the whole shard against the index before reading any data, so that a broken
                // checkpoint fails fast instead of after gigabytes of loading.
                if (!File.Exists(shardPath))
                {
                    string first = wanted.Order(StringComparer.Ordinal).First();
                    string holds = wanted.Count == 1 ? $"tensor '{first}'" : $"tensor '{first}' and {wanted.Count - 1} more";
                    throw new UserError($"{indexPath}: shard {shard} is missing (it should hold {holds})");
                }
                var header = SafeTensorsFile.ReadHeader(shardPath);
                foreach (string name in wanted.Order(StringComparer.Ordinal))
                {
                    if (!header.ContainsKey(name))
                        throw new UserError($"{indexPath}: tensor '{name}' is mapped to shard {shard}, which does not contain it");
                }

                var selected = filter is null ? wanted : wanted.Where(filter).ToHashSet(StringComparer.Ordinal);
                if (selected.Count == 0)
                    continue;
                foreach (var (name, tensor) in SafeTensorsFile.Load(shardPath, selected.Contains, castTo, device))
                    loaded.Add(name, tensor);
            }
        }
        catch
        {
            foreach (var tensor in loaded.Values)
                tensor.Dispose();
            throw;
        }
        return loaded;
    }

    /// <summary>Writes <paramref name="tensors"/> as shards of at most <paramref name="maxShardBytes"/> of
    /// tensor data each (a single larger tensor gets a shard of its own), then the index.</summary>
    /// <param name="directory">Target directory; created if missing. Existing files of the same names are
    /// replaced; other files are left alone.</param>
    /// <param name="tensors">Tensors on any device; not modified.</param>
    /// <param name="maxShardBytes">Data bytes per shard, e.g. 5 GB as transformers uses by default.</param>
    /// <param name="metadata">"__metadata__" for every shard, as in <see cref="SafeTensorsFile.Save"/>.</param>
    /// <returns>The shard file names, in order.</returns>
    /// <remarks>Tensors are assigned in name order, so the split is deterministic. Each shard is written
    /// atomically, and the index last, so an interrupted save never leaves an index pointing at a shard
    /// that is not complete.</remarks>
    public static IReadOnlyList<string> Save(
        string directory, IReadOnlyDictionary<string, torch.Tensor> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        var shards = Plan(tensors, maxShardBytes);

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var shardNames = new List<string>(shards.Count);
        for (int i = 0; i < shards.Count; i++)
        {
            string shardName = ShardFileName(i + 1, shards.Count);
            var shardTensors = shards[i].ToDictionary(name => name, name => tensors[name], StringComparer.Ordinal);
            SafeTensorsFile.Save(Path.Combine(directory, shardName), shardTensors, metadata);
            foreach (string name in shards[i])
                weightMap[name] = shardName;
            shardNames.Add(shardName);
        }

        long totalSize = tensors.Values.Sum(SafeTensorsFile.ByteSize);
        AtomicFile.Write(Path.Combine(directory, IndexFileName), stream => WriteIndex(stream, totalSize, weightMap));
        return shardNames;
    }

    /// <summary>Greedy split in name order: start a new shard when the next tensor would overflow this one.</summary>
    private static List<List<string>> Plan(IReadOnlyDictionary<string, torch.Tensor> tensors, long maxShardBytes)
    {
        var shards = new List<List<string>> { new() };
        long currentBytes = 0;
        foreach (var (name, tensor) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            long size = SafeTensorsFile.ByteSize(tensor);
            if (shards[^1].Count > 0 && currentBytes + size > maxShardBytes)
            {
                shards.Add(new List<string>());
                currentBytes = 0;
            }
            shards[^1].Add(name);
            currentBytes += size;
        }
        return shards;
    }

    internal static void WriteIndex(Stream stream, long totalSize, SortedDictionary<string, string> weightMap)
    {
        // Indented, as transformers writes it: the index is the one file people open to read.
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteStartObject("metadata");
        writer.WriteNumber("total_size", totalSize);
        writer.WriteEndObject();
        writer.WriteStartObject("weight_map");
        foreach (var (name, shard) in weightMap)
            writer.WriteString(name, shard);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
