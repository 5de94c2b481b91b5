using System.Text.Json;
using System.Text.Json.Serialization;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;
using YamlDotNet.Serialization;

namespace NasPrune.Search.Campaign;

/// <summary>
/// A campaign's configuration (YAML or JSON, snake_case keys). Each stage's section is that stage's own options
/// record (<see cref="PredictorOptions"/>, <see cref="ShrinkOptions"/>, <see cref="EvolutionOptions"/>,
/// <see cref="ActiveSearchOptions"/>, <see cref="FinalVerificationOptions"/>), so every default has one source and
/// a file names only what it changes; <c>nasprune campaign --print-config</c> shows them all. The whole file is
/// checked (keys, types, enumerations, ranges) before any work starts.
/// </summary>
public sealed class CampaignConfig
{
    /// <summary>Run directory name: runs/&lt;name&gt;/ unless --out says otherwise.</summary>
    public string Name { get; set; } = "default";
    /// <summary>Hugging Face model directory; null = the embedded model.</summary>
    public string? Model { get; set; }
    public string Criterion { get; set; } = "activation";
    /// <summary>Share of the base model's parameters to remove.</summary>
    public double Remove { get; set; } = 0.2;
    /// <summary>Candidates keep between (1 − remove − band_width) and (1 − remove) of the parameters: never more than the budget.</summary>
    public double BandWidth { get; set; } = 0.02;
    /// <summary>The campaign's seed; the predictor, shrinking and evolution seeds of round r derive from it.</summary>
    public long Seed { get; set; } = 1234;
    /// <summary>
    /// What the search minimises: nll (WikiText-2 validation NLL) or kl (mean KL(dense ‖ candidate) on the same windows,
    /// EvoPress's fitness; the pairs then carry both). Null means nll and is not written into campaign.json, so runs
    /// recorded before the objective existed still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PredictorTarget? Objective { get; set; }
    /// <summary>
    /// Tokens per window of calibration, pairs, screens and final perplexities; null = the model's context
    /// (max_position_embeddings). Real checkpoints' contexts (32,768 for Qwen2.5) leave too few windows of the shipped
    /// text, so a campaign at a real shape names a shorter one. Null is not written into campaign.json, so runs
    /// recorded before the key existed still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SeqLen { get; set; }
    public InitialPairsOptions Pairs { get; set; } = new();
    public PredictorOptions Predictor { get; set; } = new();
    public ShrinkOptions Shrink { get; set; } = new();
    public EvolutionOptions Evolution { get; set; } = new();
    public ActiveSearchOptions Active { get; set; } = new();
    /// <summary>The OWL/FLAP-style peer (no search, no real evaluation).</summary>
    public AdaptiveOptions Adaptive { get; set; } = new();
    /// <summary>The EvoPress-style peer on real evaluations only; its budget is NasPrune's, its full windows the pairs'.</summary>
    public EvolutionPeerOptions PeerEvolution { get; set; } = new();
    /// <summary>
    /// Seeds of a multi-seed campaign (each a whole campaign in seed-&lt;s&gt;/, then a summary with mean ± std);
    /// empty = one campaign with <see cref="Seed"/>.
    /// </summary>
    public List<long> Seeds { get; set; } = [];
    public FinalVerificationOptions Final { get; set; } = new();

    /// <summary>Keys of the embedded options that the campaign sets itself, and why.</summary>
    static readonly Dictionary<string, string> DerivedKeys = new()
    {
        ["predictor.seed"] = "set by the campaign (seed + round); set the campaign's seed instead",
        ["shrink.seed"] = "set by the campaign (seed + 100 × round); set the campaign's seed instead",
        ["evolution.seed"] = "set by the campaign (seed + 100 × round); set the campaign's seed instead",
        ["evolution.top_k"] = "set by the campaign (2 × the candidates a round screens or confirms are kept)",
        ["peer_evolution.seed"] = "set by the campaign (seed + 7); set the campaign's seed instead",
        ["peer_evolution.full_windows"] = "set by the campaign (pairs.windows: the peer is measured as the pairs are)",
        ["peer_evolution.budget_windows"] = "set by the campaign (the window-evaluations NasPrune spent, so both get the same)",
    };

    static readonly ISerializer Writer = new SerializerBuilder().Build();

    public static CampaignConfig Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: campaign config not found");
        var config = OptionsBinder.Bind<CampaignConfig>(path, File.ReadAllText(path), DerivedKeys);
        config.Validate(path);
        return config;
    }

    /// <summary>The resolved configuration with every default, as YAML (<c>nasprune campaign --print-config</c>).</summary>
    public string ToYaml() => Writer.Serialize(OptionsBinder.ToMap(this, DerivedKeys));

    public void Validate(string source)
    {
        void Check(bool ok, string field, string rule)
        {
            if (!ok) throw new UserError($"{source}: {field}: {rule}");
        }
        // The campaign's own sections name the key first ("final.blimp_limit -1: ..."); the libraries' records
        // describe the setting in their own words ("shrink: shrink rounds 0: ...").
        void Own(string name, Action validate)
        {
            try { validate(); }
            catch (UserError e) { throw new UserError($"{source}: {name}.{e.Message}"); }
        }
        void Library(string name, Action validate)
        {
            try { validate(); }
            catch (UserError e) { throw new UserError($"{source}: {name}: {e.Message}"); }
        }
        Check(!string.IsNullOrWhiteSpace(Name) && Name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0, "name", "a plain folder name");
        Check(Remove > 0 && Remove < 1, "remove", "must lie in (0, 1)");
        Check(BandWidth > 0 && BandWidth < 1 - Remove, "band_width", "must be positive and below the kept share");
        Check(SeqLen is null or >= 2, "seq_len", "at least 2 tokens (empty: the model's context length)");
        Check(ObjectiveTarget is PredictorTarget.Nll or PredictorTarget.Kl, "objective", "nll or kl");
        Check((ObjectiveTarget == PredictorTarget.Kl) == (Predictor.Target == PredictorTarget.Kl), "predictor.target",
            ObjectiveTarget == PredictorTarget.Kl ? "must be kl when the objective is kl (the predictor learns what the search minimises)" : "kl needs objective: kl");
        Own("pairs", Pairs.Validate);
        Library("predictor", Predictor.Validate);
        Library("shrink", Shrink.Validate);
        Library("evolution", () => EvolutionFor(0).Validate());
        Own("active", Active.Validate);
        Check(Active.ScreenWindows < Pairs.Windows, "active.screen_windows", $"must be below pairs.windows ({Pairs.Windows}); 0 = no screening");
        Library("adaptive", Adaptive.Validate);
        Check(PeerEvolution.ScreenWindows <= Pairs.Windows, "peer_evolution.screen_windows", $"must be at most pairs.windows ({Pairs.Windows})");
        Library("peer_evolution", () => PeerEvolutionFor(Pairs.Windows).Validate());
        Check(Seeds.Distinct().Count() == Seeds.Count, "seeds", "must not repeat a seed");
        Own("final", Final.Validate);
    }

    /// <summary>The objective: nll unless the file says kl.</summary>
    [JsonIgnore, YamlIgnore]
    public PredictorTarget ObjectiveTarget => Objective ?? PredictorTarget.Nll;

    /// <summary>The objective's name, as reports and logs spell it (derived, so never written to campaign.json).</summary>
    [JsonIgnore, YamlIgnore]
    public string ObjectiveName => ObjectiveTarget.Name();

    /// <summary>
    /// The configuration as campaign.json records it: every settable key, nothing derived. A rerun into the same run
    /// directory must record the same, or it is refused as another configuration.
    /// </summary>
    public JsonElement ToRecord() => JsonSerializer.SerializeToElement(this, RecordJson);

    static readonly JsonSerializerOptions RecordJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>A pair's value of the objective (lower is better).</summary>
    public double ObjectiveOf(PairRecord row) => PredictorTargets.Measured(row, ObjectiveTarget);

    /// <summary>The budget band of candidates (kept parameter share).</summary>
    [JsonIgnore, YamlIgnore]
    public BudgetBand Band => new(1 - Remove - BandWidth, 1 - Remove);

    /// <summary>Round <paramref name="round"/>'s predictor options: the section's, seeded by the campaign.</summary>
    public PredictorOptions PredictorFor(int round) => Predictor with { Seed = unchecked((int)Seed) + round };

    /// <summary>Round <paramref name="round"/>'s shrinking options: the section's, seeded by the campaign.</summary>
    public ShrinkOptions ShrinkFor(int round) => Shrink with { Seed = Seed + 100 * round };

    /// <summary>Round <paramref name="round"/>'s evolution options: the section's, seeded by the campaign, keeping 4 × top-k candidates.</summary>
    public EvolutionOptions EvolutionFor(int round) =>
        Evolution with { TopK = 2 * Math.Max(Active.TopK, Active.Screens ? Active.Screen : 0), Seed = Seed + 100 * round };

    /// <summary>The evolution peer's options for a budget of window-evaluations: full windows as the pairs', seeded by the campaign.</summary>
    public EvolutionPeerOptions PeerEvolutionFor(long budgetWindows) =>
        PeerEvolution with { FullWindows = Pairs.Windows, BudgetWindows = budgetWindows, Seed = Seed + 7 };

    /// <summary>
    /// The most random architectures beyond the initial pairs that the random-search baseline can need: NasPrune's
    /// most window-evaluations in the active loop, in full evaluations (rounded up).
    /// </summary>
    [JsonIgnore, YamlIgnore]
    public int MaxRandomContinuation
    {
        get
        {
            long perRound = (long)(Active.Fresh + Active.TopK) * Pairs.Windows + (Active.Screens ? (long)Active.Screen * Active.ScreenWindows : 0);
            return (int)((Active.Rounds * perRound + Pairs.Windows - 1) / Pairs.Windows);
        }
    }

    /// <summary>One campaign of a multi-seed configuration: this configuration with that seed and no seed list.</summary>
    public CampaignConfig WithSeed(long seed)
    {
        var copy = (CampaignConfig)MemberwiseClone(); // sections are immutable records, so sharing them is safe
        copy.Seed = seed;
        copy.Seeds = [];
        return copy;
    }

    /// <summary>The seeds this configuration runs: its seeds list, or its one seed.</summary>
    [JsonIgnore, YamlIgnore]
    public IReadOnlyList<long> SeedsToRun => Seeds.Count > 0 ? Seeds : [Seed];
}
