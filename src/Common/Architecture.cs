using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NasPrune.Common;

/// <summary>What one layer of a sub-architecture keeps: the layer at all, query heads (whole GQA groups), FFN channels.</summary>
public sealed record LayerKeep(bool Keep, int Heads, int Ffn)
{
    public static LayerKeep Dropped { get; } = new(false, 0, 0);
}

/// <summary>
/// A sub-architecture of a base model: for each layer, absolute kept counts (docs/ARCHITECTURE.md: "Architecture JSON",
/// <c>{"base": hash, "layers": [{"keep": true, "heads": 6, "ffn": 512}, ...]}</c>). Immutable; its <see cref="Id"/>
/// is a stable short hash of the canonical JSON, so equal architectures have equal ids on every machine.
/// Kept heads and channels are always a prefix of the importance-sorted layer, so the counts say everything.
/// </summary>
public sealed record Architecture
{
    public string Base { get; }
    public IReadOnlyList<LayerKeep> Layers { get; }

    public Architecture(string baseHash, IReadOnlyList<LayerKeep> layers)
    {
        Base = baseHash;
        // A layer that keeps nothing is a dropped layer: one representation, so one id.
        Layers = layers.Select(l => !l.Keep || (l.Heads == 0 && l.Ffn == 0) ? LayerKeep.Dropped : l).ToArray();
    }

    /// <summary>The base model itself: every layer, head and channel kept.</summary>
    public static Architecture Full(ModelConfig c, string baseHash) =>
        new(baseHash, c.Layers.Select(l => new LayerKeep(l.Keep, l.Heads, l.Ffn)).ToArray());

    public string Id
    {
        get
        {
            var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalLayers()));
            return Convert.ToHexStringLower(bytes)[..12];
        }
    }

    /// <summary>The layer list in a fixed textual form ("k,h,f;..."): the id depends on the shapes only.</summary>
    string CanonicalLayers() => string.Join(';', Layers.Select(l => $"{(l.Keep ? 1 : 0)},{l.Heads},{l.Ffn}"));

    public bool Equals(Architecture? other) =>
        other is not null && Base == other.Base && Layers.SequenceEqual(other.Layers);

    public override int GetHashCode() => HashCode.Combine(Base, CanonicalLayers());

    /// <summary>Per-layer shapes for the model (key/value heads follow the GQA group size).</summary>
    public IReadOnlyList<LayerShape> ToShapes(ModelConfig baseConfig)
    {
        Validate(baseConfig);
        return Layers.Select(l => l.Keep ? new LayerShape(true, l.Heads, l.Heads / baseConfig.GroupSize, l.Ffn) : LayerShape.Dropped).ToArray();
    }

    public ModelConfig ToConfig(ModelConfig baseConfig) => baseConfig.WithLayers(ToShapes(baseConfig));

    public long Params(ModelConfig baseConfig) => ToConfig(baseConfig).TotalParams;

    public double ForwardFlopsPerToken(ModelConfig baseConfig, int seqLen) => ToConfig(baseConfig).ForwardFlopsPerToken(seqLen);

    /// <summary>Layer <paramref name="layer"/>'s kept share of the base layer's query heads (0 for a dropped layer or a base layer without heads).</summary>
    public double HeadRatio(int layer, ModelConfig baseConfig)
    {
        var l = Layers[layer];
        int full = baseConfig.Layers[layer].Heads;
        return l.Keep && full > 0 ? (double)l.Heads / full : 0;
    }

    /// <summary>Layer <paramref name="layer"/>'s kept share of the base layer's FFN channels (0 for a dropped layer or a base layer without FFN).</summary>
    public double FfnRatio(int layer, ModelConfig baseConfig)
    {
        var l = Layers[layer];
        int full = baseConfig.Layers[layer].Ffn;
        return l.Keep && full > 0 ? (double)l.Ffn / full : 0;
    }

    /// <summary>Kept share of the base model's parameters (embeddings included, as the papers count).</summary>
    public double ParamRatio(ModelConfig baseConfig) => (double)Params(baseConfig) / baseConfig.TotalParams;

    /// <summary>Throws a <see cref="UserError"/> naming the layer when the architecture does not fit the base model.</summary>
    public void Validate(ModelConfig baseConfig, string source = "architecture")
    {
        if (Layers.Count != baseConfig.NumHiddenLayers)
            throw new UserError($"{source}: {Layers.Count} layers, the base model has {baseConfig.NumHiddenLayers}");
        for (int i = 0; i < Layers.Count; i++)
        {
            var l = Layers[i];
            var stored = baseConfig.Layers[i];
            if (!l.Keep) continue;
            if (l.Heads < 0 || l.Heads > stored.Heads)
                throw new UserError($"{source}: layer {i} keeps {l.Heads} heads, the base model has {stored.Heads}");
            if (l.Ffn < 0 || l.Ffn > stored.Ffn)
                throw new UserError($"{source}: layer {i} keeps {l.Ffn} FFN channels, the base model has {stored.Ffn}");
            if (l.Heads % baseConfig.GroupSize != 0)
                throw new UserError($"{source}: layer {i} keeps {l.Heads} heads, which splits a GQA group of {baseConfig.GroupSize}");
        }
    }

    public JsonObject ToJson()
    {
        var layers = new JsonArray();
        foreach (var l in Layers) layers.Add(new JsonObject { ["keep"] = l.Keep, ["heads"] = l.Heads, ["ffn"] = l.Ffn });
        return new JsonObject { ["base"] = Base, ["id"] = Id, ["layers"] = layers };
    }

    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static Architecture FromJson(string json, string source)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e) { throw new UserError($"{source}: malformed JSON ({e.Message})"); }
        if (node is not JsonObject o) throw new UserError($"{source}: expected a JSON object");
        string baseHash = o["base"] is JsonValue b && b.TryGetValue<string>(out var s) ? s : throw new UserError($"{source}: field 'base' (model hash) missing");
        if (o["layers"] is not JsonArray arr) throw new UserError($"{source}: field 'layers' missing");
        var layers = new List<LayerKeep>();
        for (int i = 0; i < arr.Count; i++)
        {
            if (arr[i] is not JsonObject l) throw new UserError($"{source}: layers[{i}] is not an object");
            bool keep = l["keep"] is JsonValue k && k.TryGetValue<bool>(out var kb) ? kb : true;
            int heads = l["heads"] is JsonValue h && h.TryGetValue<int>(out var hi) ? hi : throw new UserError($"{source}: layers[{i}].heads missing or not an integer");
            int ffn = l["ffn"] is JsonValue f && f.TryGetValue<int>(out var fi) ? fi : throw new UserError($"{source}: layers[{i}].ffn missing or not an integer");
            layers.Add(keep ? new LayerKeep(true, heads, ffn) : LayerKeep.Dropped);
        }
        var a = new Architecture(baseHash, layers);
        if (o["id"] is JsonValue id && id.TryGetValue<string>(out var idText) && idText != a.Id)
            throw new UserError($"{source}: id {idText} does not match its layers (id {a.Id}); the file was edited or corrupted");
        return a;
    }

    public static Architecture Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: architecture file not found");
        return FromJson(File.ReadAllText(path), path);
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJsonString() + "\n");
}
