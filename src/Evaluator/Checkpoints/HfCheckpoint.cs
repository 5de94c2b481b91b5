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

    /// <summary>
    /// Loads the model onto <paramref name="device"/> in <paramref name="dtype"/> (float32 by default). The model is
    /// built in <paramref name="dtype"/> and the checkpoint streamed into it one stored tensor at a time, so the
    /// peak is the model plus its largest tensor, never a second full copy of the weights. Every tensor's presence
    /// and shape is checked from the headers before any data is read.
    /// </summary>
    public static LlamaForCausalLM LoadModel(string dir, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = LoadConfig(dir);
        string source = File.Exists(Path.Combine(dir, CheckpointTensors.SingleFileName))
            ? Path.Combine(dir, CheckpointTensors.SingleFileName) : Path.Combine(dir, ShardedSafeTensors.IndexFileName);
        var storedShapes = StoredShapes(dir);
        var model = NewModel(config, dtype);
        try
        {
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var locations = StoredLocations(config, parameters.ToDictionary(p => p.Key, p => p.Value.shape));
            var bySource = locations.GroupBy(l => l.Value.Stored).ToDictionary(g => g.Key, g => g.Select(kv => (Param: kv.Key, kv.Value.Offset, kv.Value.Rows)).ToArray());
            foreach (var (stored, parts) in bySource.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!storedShapes.TryGetValue(stored, out var shape))
                    throw new UserError($"{source}: tensor '{stored}' missing (config.json describes it)");
                var want = StoredShape(parts.Select(p => parameters[p.Param].shape).ToArray());
                if (!shape.SequenceEqual(want))
                    throw new UserError($"{source}: tensor '{stored}' has shape [{string.Join(",", shape)}], config.json implies [{string.Join(",", want)}]");
            }
            using var _ = no_grad();
            StreamedTensors.ForEach(dir, (name, tensor, file) =>
            {
                if (!bySource.TryGetValue(name, out var parts)) return; // e.g. rotary inv_freq buffers: not parameters
                // A weight stored as integers or booleans is a broken conversion: copying it would silently cast counts to floats.
                if (!tensor.is_floating_point())
                    throw new UserError($"{file}: tensor '{name}' is stored as {SafeTensorsDType.FromScalarType(tensor.dtype)}; a weight must be a float dtype (F16, BF16, F32, F64)");
                foreach (var (param, offset, rows) in parts)
                    parameters[param].copy_(parts.Length == 1 ? tensor : tensor.narrow(0, offset, rows));
            });
        }
        catch
        {
            model.Dispose();
            throw;
        }
        if (device is not null) model.to(device);
        model.eval();
        return model;
    }

    /// <summary>A model of <paramref name="config"/> whose parameters are allocated in <paramref name="dtype"/> from the start.</summary>
    static LlamaForCausalLM NewModel(ModelConfig config, ScalarType dtype)
    {
        var previous = get_default_dtype();
        set_default_dtype(dtype);
        try
        {
            var model = new LlamaForCausalLM(config);
            model.to(dtype); // a no-op for what the default dtype made; covers anything created with an explicit type
            return model;
        }
        finally { set_default_dtype(previous); }
    }

    /// <summary>Name → shape of every tensor the checkpoint stores, from the headers alone.</summary>
    static Dictionary<string, long[]> StoredShapes(string dir)
    {
        string single = Path.Combine(RequireDirectory(dir), CheckpointTensors.SingleFileName);
        if (File.Exists(single)) return SafeTensorsFile.ReadHeader(single).ToDictionary(kv => kv.Key, kv => kv.Value.Shape.ToArray());
        string index = Path.Combine(dir, ShardedSafeTensors.IndexFileName);
        if (!File.Exists(index)) throw new UserError($"no {CheckpointTensors.SingleFileName} or {ShardedSafeTensors.IndexFileName} in {dir}");
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var shard in ShardedSafeTensors.ReadWeightMap(index).GroupBy(kv => kv.Value))
        {
            string path = Path.Combine(dir, shard.Key);
            if (!File.Exists(path)) throw new UserError($"{index}: shard {shard.Key} is missing (it should hold tensor '{shard.First().Key}')");
            var header = SafeTensorsFile.ReadHeader(path);
            foreach (var (name, _) in shard)
                shapes[name] = header.TryGetValue(name, out var info) ? info.Shape.ToArray()
                    : throw new UserError($"{index}: tensor '{name}' is mapped to shard {shard.Key}, which does not contain it");
        }
        return shapes;
    }

    /// <summary>The stored shape of tensors whose rows are <paramref name="parts"/> stacked (one part: its own shape).</summary>
    static long[] StoredShape(long[][] parts) => parts.Length == 1 ? parts[0]
        : [parts.Sum(p => p[0]), .. parts[0].Skip(1)];

    /// <summary>
    /// Where each model parameter lives in the checkpoint: (stored tensor, first row, rows). The same name and all
    /// rows everywhere but Phi-3, whose checkpoint fuses q/k/v into <c>self_attn.qkv_proj</c> (query rows, then key,
    /// then value) and gate/up into <c>mlp.gate_up_proj</c> (gate rows, then up), as Phi3ForCausalLM computes them.
    /// </summary>
    public static Dictionary<string, (string Stored, long Offset, long Rows)> StoredLocations(ModelConfig c, IReadOnlyDictionary<string, long[]> parameterShapes)
    {
        var map = new Dictionary<string, (string, long, long)>(StringComparer.Ordinal);
        foreach (var (name, shape) in parameterShapes)
        {
            if (c.FusedProjections && FusedPart(name) is var (prefix, fused, order))
            {
                // Offset: the rows of the parts before this one in the fused tensor.
                long offset = order.TakeWhile(p => p != name[(prefix.Length)..]).Sum(p => parameterShapes[prefix + p][0]);
                map[name] = (prefix + fused, offset, shape[0]);
            }
            else map[name] = (name, 0, shape.Length > 0 ? shape[0] : 1);
        }
        return map;
    }

    static (string Prefix, string Fused, string[] Order)? FusedPart(string name)
    {
        foreach (var (fused, order) in new[] {
            ("self_attn.qkv_proj.weight", new[] { "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight" }),
            ("mlp.gate_up_proj.weight", new[] { "mlp.gate_proj.weight", "mlp.up_proj.weight" }) })
            foreach (var part in order)
                if (name.EndsWith("." + part, StringComparison.Ordinal) && name.StartsWith("model.layers.", StringComparison.Ordinal))
                    return (name[..^part.Length], fused, order);
        return null;
    }

    /// <summary>
    /// The tensors a checkpoint of <paramref name="model"/> stores, made one at a time when written: parameters as
    /// they are, Phi-3's q/k/v and gate/up concatenated back into qkv_proj and gate_up_proj.
    /// </summary>
    public static IReadOnlyList<PendingTensor> StoredTensors(LlamaForCausalLM model)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var locations = StoredLocations(model.Config, parameters.ToDictionary(p => p.Key, p => p.Value.shape));
        var list = new List<PendingTensor>();
        foreach (var group in locations.GroupBy(l => l.Value.Stored).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var parts = group.OrderBy(kv => kv.Value.Offset).Select(kv => parameters[kv.Key]).ToArray();
            var shape = StoredShape(parts.Select(p => p.shape).ToArray());
            list.Add(new PendingTensor(group.Key, parts[0].dtype, shape, () =>
            {
                using var _ = no_grad();
                return parts.Length == 1 ? parts[0].detach() : cat(parts.Select(p => p.detach()).ToArray(), 0);
            }));
        }
        return list;
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
    /// <paramref name="dir"/>, one tensor at a time; tied embeddings are stored once, as Hugging Face does, and
    /// Phi-3's projections fused as its checkpoints fuse them.
    /// </summary>
    public static void SaveModel(LlamaForCausalLM model, string dir, long maxShardBytes = 5L << 30)
    {
        Directory.CreateDirectory(dir);
        var stored = StoredTensors(model);
        StreamedTensors.SaveDirectory(dir, stored, maxShardBytes);
        string dtypeName = stored[0].DType switch
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
