using System.Text.Json;

namespace NasPrune.Common;

/// <summary>
/// NasPrune's JSON files (importance scores, profiles, results): snake_case, indented, written atomically; a missing,
/// empty or malformed file is a <see cref="UserError"/> naming the file and what it should have been.
/// </summary>
public static class JsonFile
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void Save<T>(string path, T value) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(value, Options) + "\n");

    /// <summary>Saves unless the file already holds exactly this content (a resumed stage that recomputes the same result leaves the file untouched).</summary>
    public static void SaveIfChanged<T>(string path, T value)
    {
        string text = JsonSerializer.Serialize(value, Options) + "\n";
        if (!File.Exists(path) || File.ReadAllText(path) != text) AtomicFile.WriteAllText(path, text);
    }

    public static T Load<T>(string path, string what) => Load<T>(path, what, Options);

    /// <summary>As <see cref="Load{T}(string, string)"/>, for files written with other serializer options.</summary>
    public static T Load<T>(string path, string what, JsonSerializerOptions options)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: {what} not found");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), options) ?? throw new UserError($"{path}: empty {what}");
        }
        catch (JsonException e) { throw new UserError($"{path}: malformed {what} ({e.Message})"); }
    }
}
