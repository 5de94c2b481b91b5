using System.Text.RegularExpressions;
using NasPrune.Common;
using TorchSharp;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// The tensors of a Hugging Face checkpoint directory, whichever of the two layouts it uses: a single
/// model.safetensors, or shards listed by model.safetensors.index.json.
/// </summary>
public static partial class CheckpointTensors
{
    /// <summary>The single-file checkpoint's name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The shard size transformers uses by default ("5GB", decimal).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>Loads the checkpoint in <paramref name="directory"/>: model.safetensors if present, else the
    /// shards that model.safetensors.index.json lists.</summary>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="filter">Which tensor names to load; null loads all.</param>
    /// <param name="castTo">Element type to convert to; null keeps the stored dtypes.</param>
    /// <param name="device">Where the tensors end up; null leaves them on the CPU.</param>
    /// <exception cref="UserError">Neither file exists, or the checkpoint is broken.</exception>
    public static Dictionary<string, torch.Tensor> LoadDirectory(
        string directory, Func<string, bool>? filter = null, torch.ScalarType? castTo = null, torch.Device? device = null)
    {
        string single = Path.Combine(directory, SingleFileName);
        if (File.Exists(single))
            return SafeTensorsFile.Load(single, filter, castTo, device);
        string index = Path.Combine(directory, ShardedSafeTensors.IndexFileName);
        if (File.Exists(index))
            return ShardedSafeTensors.Load(index, filter, castTo, device);
        throw new UserError($"no {SingleFileName} or {ShardedSafeTensors.IndexFileName} in {directory}");
    }

    /// <summary>Writes <paramref name="tensors"/> into <paramref name="directory"/>: one model.safetensors when
    /// the data fits in <paramref name="maxShardBytes"/>, shards plus an index otherwise.</summary>
    /// <param name="directory">Target directory; created if missing. Other files (config.json, tokenizer) are
    /// left alone.</param>
    /// <param name="tensors">Tensors on any device; not modified.</param>
    /// <param name="maxShardBytes">Largest amount of tensor data per file.</param>
    /// <param name="metadata">"__metadata__" for the file(s), as in <see cref="SafeTensorsFile.Save"/>.</param>
    /// <remarks>Weights of the other layout left over from an earlier save are deleted once the new ones are
    /// complete: <see cref="LoadDirectory"/> prefers model.safetensors, so a stale one would silently shadow
    /// new shards, and stale shards would just waste disk.</remarks>
    public static void SaveDirectory(
        string directory, IReadOnlyDictionary<string, torch.Tensor> tensors, long maxShardBytes = DefaultMaxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        Directory.CreateDirectory(directory);

        long totalBytes = tensors.Values.Sum(SafeTensorsFile.ByteSize);
        if (totalBytes <= maxShardBytes)
        {
            SafeTensorsFile.Save(Path.Combine(directory, SingleFileName), tensors, metadata);
            DeleteShards(directory, keep: []);
            File.Delete(Path.Combine(directory, ShardedSafeTensors.IndexFileName));
        }
        else
        {
            var shards = ShardedSafeTensors.Save(directory, tensors, maxShardBytes, metadata);
            File.Delete(Path.Combine(directory, SingleFileName));
            DeleteShards(directory, keep: shards.ToHashSet(StringComparer.Ordinal));
        }
    }

    internal static void DeleteShards(string directory, HashSet<string> keep)
    {
        foreach (string path in Directory.EnumerateFiles(directory, "model-*-of-*.safetensors"))
        {
            string name = Path.GetFileName(path);
            if (ShardName().IsMatch(name) && !keep.Contains(name))
                File.Delete(path);
        }
    }

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();
}
