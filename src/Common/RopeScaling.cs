using System.Text.Json.Nodes;
using static NasPrune.Common.ConfigFields;

namespace NasPrune.Common;

/// <summary>
/// RoPE frequency scaling as Hugging Face's <c>rope_scaling</c> describes it. Computed: linear, llama3, and dynamic
/// (NTK), which Hugging Face applies only to sequences longer than max_position_embeddings; NasPrune never runs
/// those (the model refuses them), so within its range dynamic is the unscaled rotation.
/// </summary>
public sealed record RopeScaling(
    string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192)
{
    public static readonly string[] SupportedTypes = ["default", "linear", "dynamic", "llama3"];

    /// <summary>
    /// The scaling and the rotary base of a config.json. Transformers 5 writes both into one <c>rope_parameters</c>
    /// object; older versions write <c>rope_theta</c> and <c>rope_scaling</c>. Either is read, rope_parameters first.
    /// </summary>
    public static (RopeScaling? Scaling, double Theta) Read(JsonObject j, string source)
    {
        double theta = Dbl(j, "rope_theta", source) ?? 10000;
        string field = j["rope_parameters"] is not null ? "rope_parameters" : "rope_scaling";
        var node = j[field];
        if (node is null) return (null, CheckTheta(theta, source, "rope_theta"));
        if (node is not JsonObject rs) throw Invalid(source, field, "an object", node);
        if (rs.Any(kv => kv.Value is JsonObject))
            throw new UserError($"{source}: field '{field}' gives RoPE parameters per layer type, which NasPrune does not compute");
        theta = Dbl(rs, "rope_theta", $"{source}: {field}") ?? theta;
        UnimplementedConfigFields.Check(rs, $"{source}: {field}");

        string where = $"{source}: {field}";
        // Hugging Face reads "rope_type" and falls back to the older "type".
        string type = Str(rs, "rope_type", where) ?? Str(rs, "type", where) ?? "default";
        if (!SupportedTypes.Contains(type))
            throw new UserError($"{where}: RoPE type '{type}' is not computed by NasPrune (supported: {string.Join(", ", SupportedTypes)})");
        if (type == "default") return (null, CheckTheta(theta, source, field));
        double factor = Dbl(rs, "factor", where) is double f && f > 0 ? f : throw Invalid(where, "factor", "a positive number", rs["factor"]);
        var scaling = type != "llama3"
            ? new RopeScaling(type, factor)
            : new RopeScaling(type, factor,
                Dbl(rs, "low_freq_factor", where) ?? throw Invalid(where, "low_freq_factor", "a number", null),
                Dbl(rs, "high_freq_factor", where) ?? throw Invalid(where, "high_freq_factor", "a number", null),
                Int(rs, "original_max_position_embeddings", where, min: 1) ?? throw Invalid(where, "original_max_position_embeddings", "a positive integer", null));
        if (scaling.HighFreqFactor <= scaling.LowFreqFactor)
            throw new UserError($"{where}: high_freq_factor {scaling.HighFreqFactor} must exceed low_freq_factor {scaling.LowFreqFactor}");
        return (scaling, CheckTheta(theta, source, field));
    }

    static double CheckTheta(double theta, string source, string field) =>
        theta > 0 ? theta : throw new UserError($"{source}: field '{field}': rope_theta {theta} must be positive");

    /// <summary>The <c>rope_scaling</c> object Hugging Face reads back as this scaling.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["rope_type"] = Type, ["factor"] = Factor };
        if (Type != "llama3") return o;
        o["low_freq_factor"] = LowFreqFactor;
        o["high_freq_factor"] = HighFreqFactor;
        o["original_max_position_embeddings"] = OriginalMaxPositionEmbeddings;
        return o;
    }
}
