using System.Text.Json;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// A dotted path into a JSON record, such as <c>question.stem</c> or <c>endings.0</c> (array index). Values read
/// as text: strings as they are, numbers as written, booleans as "true"/"false" (BoolQ's label is a string in
/// some copies and a boolean in others; both read the same).
/// </summary>
public sealed class FieldPath
{
    readonly string[] segments;

    public FieldPath(string path)
    {
        Text = path;
        segments = path.Split('.');
        if (segments.Any(s => s.Length == 0)) throw new ArgumentException($"empty segment in field path '{path}'");
    }

    public string Text { get; }

    public override string ToString() => Text;

    /// <summary>The node at the path, or null when any step is missing.</summary>
    public JsonNode? Find(JsonNode? node)
    {
        foreach (string segment in segments)
        {
            node = node switch
            {
                JsonObject o => o.TryGetPropertyValue(segment, out var child) ? child : null,
                JsonArray a when int.TryParse(segment, out int i) && i >= 0 && i < a.Count => a[i],
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }

    /// <summary>The value at the path as text; a missing field or a non-scalar names the record's place.</summary>
    public string ReadText(JsonNode record, string where) =>
        Scalar(Find(record) ?? throw new UserError($"{where}: field '{Text}' missing"), $"{where}: field '{Text}'");

    /// <summary>A scalar node as text; <paramref name="what"/> names it in the error for anything else.</summary>
    public static string Scalar(JsonNode? node, string what)
    {
        if (node is JsonValue value)
        {
            switch (value.GetValueKind())
            {
                case JsonValueKind.String: return value.GetValue<string>();
                case JsonValueKind.Number: return value.ToJsonString();
                case JsonValueKind.True: return "true";
                case JsonValueKind.False: return "false";
            }
        }
        string kind = node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant();
        throw new UserError($"{what} is {kind}, expected text, a number or a boolean");
    }
}
