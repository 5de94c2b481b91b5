using System.Globalization;
using System.Text.Json.Nodes;

namespace NasPrune.Common;

/// <summary>
/// Typed reads of config.json fields. A field of the wrong type or out of range is a one-line UserError naming the
/// file and the field: a silently defaulted field would be a different model from the one the file describes
/// (<c>"tie_word_embeddings": "yes"</c> read as false asks for an lm_head the checkpoint never had).
/// JSON null reads as absent, as Python's None does in Hugging Face's configs.
/// </summary>
static class ConfigFields
{
    public static UserError Invalid(string source, string field, string expected, JsonNode? got) =>
        new($"{source}: field '{field}' should be {expected}, got {got?.ToJsonString() ?? "null"}");

    public static int? Int(JsonObject j, string key, string source)
    {
        var n = j[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue<int>(out var i)) return i;
        throw Invalid(source, key, "an integer", n);
    }

    /// <summary>An integer that must be at least <paramref name="min"/> when present.</summary>
    public static int? Int(JsonObject j, string key, string source, int min)
    {
        int? i = Int(j, key, source);
        if (i < min) throw Invalid(source, key, min == 1 ? "a positive integer" : $"an integer ≥ {min}", j[key]);
        return i;
    }

    public static double? Dbl(JsonObject j, string key, string source)
    {
        var n = j[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue<double>(out var d) && double.IsFinite(d)) return d;
        throw Invalid(source, key, "a number", n);
    }

    public static string? Str(JsonObject j, string key, string source)
    {
        var n = j[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        throw Invalid(source, key, "a string", n);
    }

    public static bool? Bool(JsonObject j, string key, string source)
    {
        var n = j[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        throw Invalid(source, key, "true or false", n);
    }

    /// <summary>The value for a message: numbers without exponent noise, strings quoted.</summary>
    public static string Show(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d)
        ? d.ToString(CultureInfo.InvariantCulture) : n?.ToJsonString() ?? "null";
}
