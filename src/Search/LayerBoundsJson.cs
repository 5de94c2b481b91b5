using System.Text.Json;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// <see cref="LayerBounds"/> as a JSON file (what <c>--bounds FILE</c> reads and the shrinking rounds write):
/// <c>{"layers": [{"head_min": 0.5, "head_max": 1, "ffn_min": 0.25, "ffn_max": 0.75}, ...]}</c>, one entry per
/// decoder layer, keep ratios in [0, 1]. Other top-level fields are ignored, so a round file can carry more.
/// </summary>
public static class LayerBoundsJson
{
    public static JsonObject ToJson(LayerBounds b)
    {
        var layers = new JsonArray();
        for (int i = 0; i < b.HeadMin.Length; i++)
            layers.Add(new JsonObject { ["head_min"] = b.HeadMin[i], ["head_max"] = b.HeadMax[i], ["ffn_min"] = b.FfnMin[i], ["ffn_max"] = b.FfnMax[i] });
        return new JsonObject { ["layers"] = layers };
    }

    public static LayerBounds FromJson(JsonNode? node, string source)
    {
        if (node is not JsonObject o) throw new UserError($"{source}: expected a JSON object with a 'layers' array");
        if (o["layers"] is not JsonArray arr || arr.Count == 0) throw new UserError($"{source}: field 'layers' missing or empty");
        int n = arr.Count;
        double[] headMin = new double[n], headMax = new double[n], ffnMin = new double[n], ffnMax = new double[n];
        for (int i = 0; i < n; i++)
        {
            if (arr[i] is not JsonObject l) throw new UserError($"{source}: layers[{i}] is not an object");
            double Field(string name) => l[name] is JsonValue v && v.TryGetValue<double>(out var d) && double.IsFinite(d)
                ? d : throw new UserError($"{source}: layers[{i}].{name} missing or not a number");
            (headMin[i], headMax[i], ffnMin[i], ffnMax[i]) = (Field("head_min"), Field("head_max"), Field("ffn_min"), Field("ffn_max"));
        }
        var bounds = new LayerBounds(headMin, headMax, ffnMin, ffnMax);
        try { bounds.Validate(n); }
        catch (UserError e) { throw new UserError($"{source}: {e.Message}"); }
        return bounds;
    }

    public static LayerBounds Parse(string json, string source)
    {
        try { return FromJson(JsonNode.Parse(json), source); }
        catch (JsonException e) { throw new UserError($"{source}: malformed JSON ({e.Message})"); }
    }

    /// <summary>Reads a bounds file; with <paramref name="layers"/>, also checks it has one entry per layer of the model.</summary>
    public static LayerBounds Load(string path, int? layers = null)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: layer bounds file not found");
        var bounds = Parse(File.ReadAllText(path), path);
        if (layers is int count && bounds.HeadMin.Length != count)
            throw new UserError($"{path}: bounds for {bounds.HeadMin.Length} layers, the model has {count}");
        return bounds;
    }

    public static void Save(string path, LayerBounds bounds) =>
        AtomicFile.WriteAllText(path, ToJson(bounds).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
