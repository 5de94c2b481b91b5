namespace NasPrune.Search.Campaign;

/// <summary>The run directory's layout (docs/ARCHITECTURE.md, "A campaign's run directory").</summary>
public sealed record CampaignPaths(string Root)
{
    public string CampaignJson => Path.Combine(Root, "campaign.json");
    public string Importance(string criterion) => Path.Combine(Root, "importance", $"{criterion}.json");
    /// <summary>Everything the predictor learns from: the initial shards and the active loop's rows.</summary>
    public string Pairs => Path.Combine(Root, "pairs");
    public string ActivePairs => Path.Combine(Pairs, "active");
    /// <summary>The random-search baseline's extra evaluations (kept out of the predictor's pairs).</summary>
    public string RandomPairs => Path.Combine(Root, "random");
    /// <summary>The active loop's screens: candidates measured on the first few windows only (not predictor input).</summary>
    public string Screens => Path.Combine(Root, "screens");
    /// <summary>The evolution peer's real evaluations: full windows and screens.</summary>
    public string EvolutionPairs => Path.Combine(Root, "evolution", "full");
    public string EvolutionScreens => Path.Combine(Root, "evolution", "screens");
    /// <summary>The evolution peer's result (best architecture and the ordered log of its evaluations).</summary>
    public string EvolutionResult => Path.Combine(Root, "evolution", "result.json");
    /// <summary>Best real validation objective against real window-evaluations spent, per search method.</summary>
    public string Anytime => Path.Combine(SearchDir, "anytime.json");
    public string PredictorDir => Path.Combine(Root, "predictor");
    public string PredictorModel => Path.Combine(PredictorDir, "model.zip");
    public string SearchDir => Path.Combine(Root, "search");
    public string SearchRound(int r) => Path.Combine(SearchDir, $"round-{r}.json");
    public string SearchBounds(int r) => Path.Combine(SearchDir, $"round-{r}.bounds.json");
    public string SearchPlan(int r) => Path.Combine(SearchDir, $"round-{r}.plan.json");
    public string FinalDir => Path.Combine(Root, "final");
    public string FinalRow(CampaignMethod method, string recovery) => Path.Combine(FinalDir, $"{method.Key()}-{recovery}.json");
    /// <summary>The row's per-window and per-item values (<see cref="FinalSamples"/>), beside the row.</summary>
    public string FinalSamples(CampaignMethod method, string recovery) => Path.Combine(FinalDir, $"{method.Key()}-{recovery}.samples.json");
    public string FinalCheckpoint(CampaignMethod method, string recovery) => Path.Combine(FinalDir, recovery == "none" ? method.Key() : $"{method.Key()}-{recovery}");
    public string Timings => Path.Combine(Root, "timings.json");
    public string Continuations => Path.Combine(FinalDir, "continuations.json");
    public string Results => Path.Combine(Root, "results.json");
    public string Report => Path.Combine(Root, "report.md");
}
