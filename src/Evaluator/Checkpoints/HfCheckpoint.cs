using System.Security.Cryptography;
using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// A Hugging Face model directory: config.json, model.safetensors (or a sharded index) and the tokenizer
/// files. Loading checks every tensor's presence and shape against the config and names the file and the
/// tensor when one is wrong.
/// </summary>
public static class HfCheckpoint
{
    public const string ConfigFile = "config.json";
    static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"];

    public static string RequireDirectory(string dir)
    {
        if (!Directory.Exists(dir)) throw new UserError($"{dir}: model directory not found");
        return dir;
    }

    public static ModelConfig LoadConfig(string dir) => ModelConfig.Load(Path.Combine(RequireDirectory(dir), ConfigFile));

    /// <summary>Loads the model onto <paramref name="device"/> in <paramref name="dtype"/> (float32 by default).</summary>
    public static LlamaForCausalLM LoadModel(string dir, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = LoadConfig(dir);
        var model = new LlamaForCausalLM(config);
        var tensors = CheckpointTensors.LoadDirectory(dir);
        string source = File.Exists(Path.Combine(dir, "model.safetensors"))
            ? Path.Combine(dir, "model.safetensors") : Path.Combine(dir, "model.safetensors.index.json");
        try
        {
            using var _ = no_grad();
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (!tensors.TryGetValue(name, out var stored))
                    throw new UserError($"{source}: tensor '{name}' missing (config.json describes it)");
                // A weight stored as integers or booleans is a broken conversion: copying it would silently cast counts to floats.
                if (!stored.is_floating_point())
                    throw new UserError($"{source}: tensor '{name}' is stored as {SafeTensorsDType.FromScalarType(stored.dtype)}; a weight must be a float dtype (F16, BF16, F32, F64)");
                if (!stored.shape.SequenceEqual(parameter.shape))
                    throw new UserError($"{source}: tensor '{name}' has shape [{string.Join(",", stored.shape)}], config.json implies [{string.Join(",", parameter.shape)}]");
                parameter.copy_(stored);
            }
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        model.to(dtype);
        if (device is not null) model.to(device);
        model.eval();
        return model;
    }

    /// <summary>
    /// Reads the weight files' headers without loading tensors, so a truncated or corrupt checkpoint is reported
    /// (naming the file and tensor) by commands that do not load the weights, such as <c>info</c>. Returns the
    /// number of tensors.
    /// </summary>
    public static int VerifyWeightHeaders(string dir)
    {
        string single = Path.Combine(RequireDirectory(dir), CheckpointTensors.SingleFileName);
        if (File.Exists(single)) return CheckFloat(single, SafeTensorsFile.ReadHeader(single)).Count;
        string index = Path.Combine(dir, ShardedSafeTensors.IndexFileName);
        if (!File.Exists(index)) throw new UserError($"{dir}: no {CheckpointTensors.SingleFileName} or {ShardedSafeTensors.IndexFileName}");
        var map = ShardedSafeTensors.ReadWeightMap(index);
        foreach (var shard in map.Values.Distinct())
        {
            var header = CheckFloat(Path.Combine(dir, shard), SafeTensorsFile.ReadHeader(Path.Combine(dir, shard)));
            foreach (var (name, _) in map.Where(kv => kv.Value == shard))
                if (!header.ContainsKey(name)) throw new UserError($"{index}: tensor '{name}' is mapped to {shard}, which does not hold it");
        }
        return map.Count;
    }

    /// <summary>Every tensor of a LLaMA-family checkpoint is a float weight: an integer or boolean dtype is a broken conversion.</summary>
    static IReadOnlyDictionary<string, SafeTensorInfo> CheckFloat(string path, IReadOnlyDictionary<string, SafeTensorInfo> header)
    {
        foreach (var (name, info) in header)
            if (!FloatDTypes.Contains(info.DType))
                throw new UserError($"{path}: tensor '{name}' is stored as {info.DType}; a weight must be a float dtype (F16, BF16, F32, F64)");
        return header;
    }

    static readonly string[] FloatDTypes = ["F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"];

    /// <summary>
    /// Writes config.json and the weights (sharded above <paramref name="maxShardBytes"/>) into
    /// <paramref name="dir"/>; tied embeddings are stored once, as Hugging Face does.
    /// </summary>
    public static void SaveModel(LlamaForCausalLM model, string dir, long maxShardBytes = 5L << 30)
    {
        Directory.CreateDirectory(dir);
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach().cpu());
        CheckpointTensors.SaveDirectory(dir, tensors, maxShardBytes);
        var dtype = tensors.Values.First().dtype;
        string dtypeName = dtype switch
        {
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float16 => "float16",
            _ => "float32",
        };
        (model.Config with { TorchDtype = dtypeName }).Save(Path.Combine(dir, ConfigFile));
    }

    /// <summary>Copies the tokenizer files of one model directory into another (pruning keeps the tokenizer).</summary>
    public static void CopyTokenizer(string fromDir, string toDir)
    {
        Directory.CreateDirectory(toDir);
        foreach (var f in TokenizerFiles)
        {
            string src = Path.Combine(fromDir, f);
            if (File.Exists(src)) File.Copy(src, Path.Combine(toDir, f), overwrite: true);
        }
    }

    /// <summary>
    /// A short, stable identity of a checkpoint: SHA-256 over config.json and the weight files, 12 hex digits.
    /// Results, caches and pairs carry it so that numbers from different weights are never mixed.
    /// </summary>
    public static string ModelHash(string dir)
    {
        RequireDirectory(dir);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = new[] { ConfigFile }.Concat(Directory.GetFiles(dir, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var buffer = new byte[1 << 20];
        foreach (var name in files)
        {
            string path = Path.Combine(dir, name!);
            if (!File.Exists(path)) continue;
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name!));
            using var fs = File.OpenRead(path);
            int n;
            while ((n = fs.Read(buffer, 0, buffer.Length)) > 0) sha.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..12];
    }
}
