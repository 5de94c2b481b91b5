using NasPrune.Common;

namespace NasPrune.Search.Campaign;

/// <summary>
/// results.json: the final table of one campaign, with the protocol it was measured under (including which text each
/// perplexity task read, <see cref="PerplexityTexts"/>) and the objective its search minimised (nll or kl; files
/// written before objectives existed read as nll).
/// </summary>
public sealed record CampaignResults(
    string Model, string ModelHash, double BudgetRemoved, string Criterion, string Split, int SeqLen, int? MaxWindows,
    int? BlimpLimit, int? MmluLimit, int? ZeroshotLimit, IReadOnlyList<ResultRow> Rows, string Objective = "nll",
    IReadOnlyDictionary<string, string>? PerplexityTexts = null)
{
    public void Save(string path) => JsonFile.Save(path, this);

    public static CampaignResults Load(string path) => JsonFile.Load<CampaignResults>(path, "campaign results (the final stage writes them)");

    public static ResultRow LoadRow(string path) => JsonFile.Load<ResultRow>(path, "final result row");

    public static void SaveRow(string path, ResultRow row) => JsonFile.Save(path, row);
}
