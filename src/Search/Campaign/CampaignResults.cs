using NasPrune.Common;

namespace NasPrune.Search.Campaign;

/// <summary>
/// results.json: the final table of one campaign, with the protocol it was measured under (including which text each
/// perplexity task read, <see cref="PerplexityTexts"/>) and the objective its search minimised (nll or kl; files
/// written before objectives existed read as nll), and the paired bootstrap intervals of the rows' differences
/// (<see cref="Confidence"/>; null in files written before them).
/// </summary>
public sealed record CampaignResults(
    string Model, string ModelHash, double BudgetRemoved, string Criterion, string Split, int SeqLen, int? MaxWindows,
    int? BlimpLimit, int? MmluLimit, int? ZeroshotLimit, IReadOnlyList<ResultRow> Rows, string Objective = "nll",
    IReadOnlyDictionary<string, string>? PerplexityTexts = null, ConfidenceSection? Confidence = null)
{
    /// <summary>
    /// These results with intervals made from the samples files beside the rows (rows without one get none), the
    /// bootstrap seeded with the campaign's seed (as the other stages fold it into an int).
    /// </summary>
    public CampaignResults WithConfidence(CampaignPaths paths, long seed) => this with
    {
        Confidence = CampaignConfidence.Compute(Rows, r => File.Exists(paths.FinalSamples(r.Method, r.Recovery))
            ? FinalSamples.Load(paths.FinalSamples(r.Method, r.Recovery)) : null, unchecked((int)seed)),
    };

    public void Save(string path) => JsonFile.Save(path, this);

    public static CampaignResults Load(string path) => JsonFile.Load<CampaignResults>(path, "campaign results (the final stage writes them)");

    public static ResultRow LoadRow(string path) => JsonFile.Load<ResultRow>(path, "final result row");

    public static void SaveRow(string path, ResultRow row) => JsonFile.Save(path, row);
}
