using System.Text.Json;
using NasPrune.Common;

namespace NasPrune.Cli.Campaign;

/// <summary>results.json (shared DESIGN): the final table of one campaign, with the protocol it was measured under.</summary>
public sealed record CampaignResults(
    string Model, string ModelHash, double BudgetRemoved, string Criterion, string Split, int SeqLen, int? MaxWindows,
    int? MmluLimit, int? ZeroshotLimit, IReadOnlyList<ResultRow> Rows)
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static CampaignResults Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: results.json not found (has the campaign's final stage run?)");
        try { return JsonSerializer.Deserialize<CampaignResults>(File.ReadAllText(path), Json) ?? throw new UserError($"{path}: empty"); }
        catch (JsonException e) { throw new UserError($"{path}: malformed results ({e.Message})"); }
    }

    public static ResultRow LoadRow(string path) => JsonSerializer.Deserialize<ResultRow>(File.ReadAllText(path), Json)!;

    public static void SaveRow(string path, ResultRow row) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(row, Json) + "\n");
}
