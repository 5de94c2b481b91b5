using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Synthetic;

/// <summary>What <see cref="SyntheticCheckpoint.Write"/> wrote.</summary>
public sealed record SynthResult(string Shape, string Source, string Out, string ModelType, long Params, long WeightBytes,
    int Tensors, int VocabSize, int TrainedTokens, string DType, long Seed, double Seconds);

/// <summary>
/// A Hugging Face checkpoint with random weights at a real model's shape (<see cref="ShapeTable"/>): config.json
/// with the real fields, safetensors written one tensor at a time (the memory held is one tensor, not the model),
/// and a tokenizer with the real vocabulary size.
/// </summary>
/// <remarks>
/// Weights: every matrix normal(0, initializer_range = 0.02), every norm weight 1, every bias 0, as a model is
/// initialised for training; each tensor's values come from its own generator seeded by the seed and the tensor's
/// name, so they do not depend on the order of writing. Tokenizer: the embedded model's byte-level BPE
/// (<c>data/models/nasprune-tiny-llama</c>, 4,096 tokens learned on NasPrune's training corpus: id 0
/// &lt;|endoftext|&gt;, 256 byte symbols, 3,839 merges) cut to the first vocab_size tokens and their merges when the
/// shape's vocabulary is smaller, or padded with never-produced tokens &lt;|synth_N|&gt; up to vocab_size when it
/// is larger, so text tokenizes as that BPE does and every id of the embedding is a valid token. bos/eos ids are
/// set to that tokenizer's &lt;|endoftext|&gt; (0), as the real ids name tokens this tokenizer does not have.
/// </remarks>
public static class SyntheticCheckpoint
{
    public const double InitStd = 0.02;

    public static SynthResult Write(string shapeName, string outDir, string tokenizerDir, long seed, ScalarType dtype, Action<string>? log = null)
    {
        var watch = Stopwatch.StartNew();
        var shape = ShapeTable.Find(shapeName);
        var json = shape.Config();
        json["torch_dtype"] = dtype switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" };
        json["bos_token_id"] = 0;
        json["eos_token_id"] = 0;
        if (json.ContainsKey("pad_token_id")) json["pad_token_id"] = 0;
        var config = ModelConfig.FromJson(json, $"shape {shape.Name}");
        if (config.VocabSize < 257)
            throw new UserError($"shape {shape.Name}: vocab_size {config.VocabSize} is below the 257 ids a byte-level tokenizer needs");

        Directory.CreateDirectory(outDir);
        int trained = WriteTokenizer(tokenizerDir, outDir, config.VocabSize, config.MaxPositionEmbeddings);
        var parameters = ParameterShapes(config);
        // The checkpoint's own tensors (Phi-3's fused projections included) and where each model parameter sits in them.
        var locations = HfCheckpoint.StoredLocations(config, parameters);
        var pending = locations.GroupBy(l => l.Value.Stored).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var partShapes = g.OrderBy(kv => kv.Value.Offset).Select(kv => parameters[kv.Key]).ToArray();
            long[] stored = partShapes.Length == 1 ? partShapes[0] : [partShapes.Sum(p => p[0]), .. partShapes[0].Skip(1)];
            string name = g.Key;
            return new PendingTensor(name, dtype, stored, () =>
            {
                log?.Invoke($"  {name} [{string.Join(", ", stored)}]");
                return Values(name, stored, seed, dtype);
            });
        }).ToList();
        StreamedTensors.SaveDirectory(outDir, pending);
        AtomicFile.WriteAllText(Path.Combine(outDir, HfCheckpoint.ConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteAllText(Path.Combine(outDir, "README.md"),
            $"# Synthetic {shape.Name}\n\nRandom weights (normal(0, {InitStd}) matrices, unit norms, zero biases; seed {seed}, {json["torch_dtype"]}) " +
            $"at the shape of `{shape.Source}`, written by `nasprune synth --shape {shape.Name} --seed {seed}`. " +
            $"Not a trained model: for cost measurements and pipeline tests only. Tokenizer: NasPrune's embedded byte-level BPE " +
            $"({trained} learned tokens) padded or cut to vocab_size {config.VocabSize}; bos/eos = 0 (<|endoftext|>).\n");
        long bytes = pending.Sum(p => p.ByteSize);
        return new SynthResult(shape.Name, shape.Source, Path.GetFullPath(outDir), config.ModelType, config.TotalParams, bytes,
            pending.Count, config.VocabSize, trained, json["torch_dtype"]!.GetValue<string>(), seed, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Name → shape of every parameter <see cref="Model.LlamaForCausalLM"/> has for <paramref name="c"/>, without
    /// building it (a test checks this against the real module's parameters).
    /// </summary>
    public static Dictionary<string, long[]> ParameterShapes(ModelConfig c)
    {
        long h = c.HiddenSize, hd = c.HeadDim;
        var p = new Dictionary<string, long[]>(StringComparer.Ordinal) { ["model.embed_tokens.weight"] = [c.VocabSize, h] };
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var l = c.Layers[i];
            string a = $"model.layers.{i}.self_attn.", m = $"model.layers.{i}.mlp.";
            if (l.HasAttention)
            {
                long q = l.Heads * hd, kv = l.KvHeads * hd;
                p[$"model.layers.{i}.input_layernorm.weight"] = [h];
                p[a + "q_proj.weight"] = [q, h];
                p[a + "k_proj.weight"] = [kv, h];
                p[a + "v_proj.weight"] = [kv, h];
                p[a + "o_proj.weight"] = [h, q];
                if (c.QkvBias) { p[a + "q_proj.bias"] = [q]; p[a + "k_proj.bias"] = [kv]; p[a + "v_proj.bias"] = [kv]; }
                if (c.OutputBias) p[a + "o_proj.bias"] = [h];
                if (c.QkNorm) { p[a + "q_norm.weight"] = [hd]; p[a + "k_norm.weight"] = [hd]; }
            }
            if (l.HasMlp)
            {
                p[$"model.layers.{i}.post_attention_layernorm.weight"] = [h];
                p[m + "gate_proj.weight"] = [l.Ffn, h];
                p[m + "up_proj.weight"] = [l.Ffn, h];
                p[m + "down_proj.weight"] = [h, l.Ffn];
                if (c.MlpBias) { p[m + "gate_proj.bias"] = [l.Ffn]; p[m + "up_proj.bias"] = [l.Ffn]; p[m + "down_proj.bias"] = [h]; }
            }
        }
        p["model.norm.weight"] = [h];
        if (!c.TieWordEmbeddings) p["lm_head.weight"] = [c.VocabSize, h];
        return p;
    }

    /// <summary>One stored tensor's values, from a generator seeded by (seed, name); filled in chunks of rows so the float32 staging stays small.</summary>
    static Tensor Values(string name, long[] shape, long seed, ScalarType dtype)
    {
        using var _ = no_grad();
        if (name.EndsWith("norm.weight", StringComparison.Ordinal)) return ones(shape, dtype);
        if (name.EndsWith(".bias", StringComparison.Ordinal)) return zeros(shape, dtype);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}/{name}"));
        var generator = new Generator(BitConverter.ToUInt64(hash, 0));
        var result = empty(shape, dtype);
        long rows = shape[0], rowSize = shape.Skip(1).Aggregate(1L, (x, y) => x * y);
        long chunk = Math.Max(1, (1L << 24) / Math.Max(1, rowSize));
        for (long r = 0; r < rows; r += chunk)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(chunk, rows - r);
            var staging = empty([n, .. shape.Skip(1)], ScalarType.Float32).normal_(0, InitStd, generator);
            result.narrow(0, r, n).copy_(staging);
        }
        return result;
    }

    /// <summary>Writes tokenizer.json / tokenizer_config.json with exactly <paramref name="vocab"/> ids; returns how many are learned (not padding).</summary>
    public static int WriteTokenizer(string tokenizerDir, string outDir, int vocab, int maxLength)
    {
        string path = Path.Combine(tokenizerDir, "tokenizer.json");
        if (!File.Exists(path)) throw new UserError($"{path}: the base tokenizer of synthetic checkpoints is missing");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var model = root["model"]!.AsObject();
        var vocabObj = model["vocab"]!.AsObject();
        var byId = vocabObj.Select(kv => (Token: kv.Key, Id: kv.Value!.GetValue<int>())).OrderBy(t => t.Id).ToList();
        if (byId.Select(t => t.Id).Where((id, i) => id != i).Any())
            throw new UserError($"{path}: vocabulary ids are not 0..n-1");
        var merges = model["merges"]!.AsArray().Select(m => m!.GetValue<string>()).ToList();
        var kept = byId.Take(vocab).Select(t => t.Token).ToList();
        var keptSet = kept.ToHashSet(StringComparer.Ordinal);
        // A merge survives when its product is a kept token (merges are learned in id order, so a prefix survives).
        var keptMerges = merges.Where(m => keptSet.Contains(m.Replace(" ", ""))).ToList();
        int learned = kept.Count;
        for (int id = kept.Count; id < vocab; id++) kept.Add($"<|synth_{id}|>");
        var newVocab = new JsonObject();
        for (int id = 0; id < kept.Count; id++) newVocab[kept[id]] = id;
        model["vocab"] = newVocab;
        model["merges"] = new JsonArray(keptMerges.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray());
        var options = new JsonSerializerOptions { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(Path.Combine(outDir, "tokenizer.json"), root.ToJsonString(options));
        var tokConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(tokenizerDir, "tokenizer_config.json")))!.AsObject();
        tokConfig["model_max_length"] = maxLength;
        AtomicFile.WriteAllText(Path.Combine(outDir, "tokenizer_config.json"), tokConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return learned;
    }
}
