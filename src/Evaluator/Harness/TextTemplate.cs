using System.Text;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// A prompt template of a task definition: text with <c>{field.path}</c> slots filled from a record;
/// <c>{{</c> and <c>}}</c> stand for literal braces. Deliberately no expressions: a task that needs more
/// preprocessing ships preprocessed data, so a definition file stays readable.
/// </summary>
public sealed class TextTemplate
{
    readonly List<(string? Literal, FieldPath? Field)> parts = [];

    /// <param name="where">Definition file and field, for errors in the template itself.</param>
    public TextTemplate(string template, string where)
    {
        Source = template;
        var literal = new StringBuilder();
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
            {
                literal.Append(c);
                i++;
            }
            else if (c == '{')
            {
                int close = template.IndexOf('}', i + 1);
                if (close < 0) throw new UserError($"{where}: template has a '{{' without a closing '}}' (write '{{{{' for a literal brace)");
                string path = template[(i + 1)..close];
                if (path.Length == 0 || path.Split('.').Any(s => s.Length == 0) || path.Any(ch => ch is '{' or ' '))
                    throw new UserError($"{where}: '{{{path}}}' is not a field path (expected e.g. {{question.stem}})");
                if (literal.Length > 0) { parts.Add((literal.ToString(), null)); literal.Clear(); }
                parts.Add((null, new FieldPath(path)));
                i = close;
            }
            else if (c == '}')
                throw new UserError($"{where}: template has a '}}' without an opening '{{' (write '}}}}' for a literal brace)");
            else literal.Append(c);
        }
        if (literal.Length > 0) parts.Add((literal.ToString(), null));
    }

    /// <summary>The template as written in the definition, for the protocol record.</summary>
    public string Source { get; }

    public string Render(JsonNode record, string where)
    {
        var text = new StringBuilder();
        foreach (var (literal, field) in parts)
            text.Append(literal ?? field!.ReadText(record, where));
        return text.ToString();
    }
}
