using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NasPrune.Common;

/// <summary>
/// The JSON of results and reports (results.json, prune.json, sample.json, --json output): snake_case, indented, null
/// fields left out. The same text whether a library writes the file or the command line prints it.
/// </summary>
public static class ReportJson
{
    static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Prompt formats hold quotes, '<' and '+': keep them readable (still valid JSON; stdout is no HTML page).
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}
