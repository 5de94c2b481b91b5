using System.Text.Json;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>Typed access to a task definition's JSON fields; a wrong or missing field names the file and the field.</summary>
sealed class DefinitionReader(string path, JsonObject root, string prefix = "")
{
    public string Path => path;

    public static DefinitionReader Open(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: task definition not found");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new UserError($"{path}: malformed JSON: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        return new DefinitionReader(path, node as JsonObject ?? throw new UserError($"{path}: expected a JSON object"));
    }

    public bool Has(string name) => root.TryGetPropertyValue(name, out var v) && v is not null;

    public string Where(string name) => $"{path}: field {prefix}{name}";

    public string? OptionalString(string name) => root.TryGetPropertyValue(name, out var v) && v is not null
        ? v is JsonValue s && s.GetValueKind() == JsonValueKind.String ? s.GetValue<string>() : throw new UserError($"{Where(name)} must be a string")
        : null;

    public string String(string name) => OptionalString(name) ?? throw new UserError($"{Where(name)} is missing");

    public DefinitionReader Object(string name) => root.TryGetPropertyValue(name, out var v) && v is JsonObject o
        ? new DefinitionReader(path, o, $"{prefix}{name}.")
        : throw new UserError($"{Where(name)} is missing or not an object");

    public JsonNode? Node(string name) => root.TryGetPropertyValue(name, out var v) ? v : null;

    public IReadOnlyList<string> Strings(string name)
    {
        if (Node(name) is not JsonArray array || array.Count == 0)
            throw new UserError($"{Where(name)} is missing or not a non-empty array of strings");
        return array.Select((item, i) => item is JsonValue s && s.GetValueKind() == JsonValueKind.String
            ? s.GetValue<string>()
            : throw new UserError($"{Where(name)}[{i}] must be a string")).ToArray();
    }

    /// <summary>An object of string → integer, such as BoolQ's {"false": 0, "true": 1}.</summary>
    public IReadOnlyDictionary<string, int>? OptionalIntMap(string name)
    {
        if (Node(name) is null) return null;
        if (Node(name) is not JsonObject map) throw new UserError($"{Where(name)} must be an object of label: index");
        return map.ToDictionary(p => p.Key, p => p.Value is JsonValue v && v.TryGetValue(out int i)
            ? i : throw new UserError($"{Where(name)}.{p.Key} must be an integer index"));
    }

    public bool OptionalBool(string name) => Node(name) switch
    {
        null => false,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw new UserError($"{Where(name)} must be true or false"),
    };

    public FieldPath FieldPath(string name) => ParsePath(String(name), name);

    public FieldPath? OptionalFieldPath(string name) => OptionalString(name) is string p ? ParsePath(p, name) : null;

    public TextTemplate Template(string text, string name) => new(text, Where(name));

    FieldPath ParsePath(string text, string name)
    {
        try
        {
            return new FieldPath(text);
        }
        catch (ArgumentException e)
        {
            throw new UserError($"{Where(name)}: {e.Message}", e);
        }
    }
}
