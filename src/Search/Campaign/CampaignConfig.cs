using System.Text.Json.Serialization;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Predictor;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace NasPrune.Search.Campaign;

/// <summary>
/// A campaign's configuration (YAML or JSON, snake_case keys). Every field has a default that runs on the embedded
/// model on 2 CPU cores; a file only names what it changes. Unknown keys are errors (a typo must not silently
/// fall back to a default).
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
    public long Seed { get; set; } = 1234;
    /// <summary>
    /// What the search minimises: nll (WikiText-2 validation NLL) or kl (mean KL(dense ‖ candidate) on the same windows,
    /// EvoPress's fitness; the pairs then carry both). Null means nll and is not written into campaign.json, so runs
    /// recorded before the objective existed still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Objective { get; set; }
    public PairsSection Pairs { get; set; } = new();
    public PredictorSection Predictor { get; set; } = new();
    public ShrinkSection Shrink { get; set; } = new();
    public EvolutionSection Evolution { get; set; } = new();
    public ActiveSection Active { get; set; } = new();
    public FinalSection Final { get; set; } = new();

    public sealed class PairsSection
    {
        /// <summary>Initial random pairs the first predictor learns from.</summary>
        public int Count { get; set; } = 200;
        public int Windows { get; set; } = 32;
        public long WindowSeed { get; set; } = 1234;
        public long CalibrationSeed { get; set; } = 1234;
    }

    public sealed class PredictorSection
    {
        public string Target { get; set; } = "nll";
        public int Trees { get; set; } = 400;
        public int Leaves { get; set; } = 8;
        public double LearningRate { get; set; } = 0.05;
        /// <summary>Ridge penalty of a linear trend under the trees (0 = trees alone; PredictorOptions.RidgeLambda).</summary>
        public double Ridge { get; set; }
    }

    public sealed class ShrinkSection
    {
        public int Rounds { get; set; } = 3;
        public int SampleSize { get; set; } = 2000;
        public double TopQuantile { get; set; } = 0.1;
    }

    public sealed class EvolutionSection
    {
        public int Population { get; set; } = 200;
        public int Generations { get; set; } = 50;
    }

    public sealed class ActiveSection
    {
        /// <summary>Rounds of predict → evaluate top-k for real → retrain.</summary>
        public int Rounds { get; set; } = 5;
        public int TopK { get; set; } = 8;
        /// <summary>Stop after this many rounds without a better real best.</summary>
        public int Patience { get; set; } = 2;
    }

    public sealed class FinalSection
    {
        /// <summary>Test windows per perplexity task (null = whole splits).</summary>
        public int? MaxWindows { get; set; }
        /// <summary>
        /// BLiMP pairs per paradigm (null = all 1,000, 0 = skip). 100 × 67 paradigms = 6,700 pairs: about 270 s of
        /// CPU time per result row for a 7M-parameter model (README), a tenth of the whole set's.
        /// </summary>
        public int? BlimpLimit { get; set; } = 100;
        /// <summary>MMLU questions per subject (5-shot; null = all, 0 = skip).</summary>
        public int? MmluLimit { get; set; } = 4;
        /// <summary>Items per zero-shot task (null = all, 0 = skip).</summary>
        public int? ZeroshotLimit { get; set; } = 100;
        /// <summary>Recoveries to compare for every pruned method.</summary>
        public List<string> Recover { get; set; } = ["none", "ls"];
        /// <summary>Export the pruned checkpoints into final/&lt;method&gt;/.</summary>
        public bool Export { get; set; } = true;
    }

    static readonly IDeserializer Reader = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
    static readonly ISerializer Writer = new SerializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();

    public static CampaignConfig Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: campaign config not found");
        CampaignConfig? config;
        try { config = Reader.Deserialize<CampaignConfig>(File.ReadAllText(path)); }
        catch (YamlException e)
        {
            string why = (e.InnerException?.Message ?? e.Message).Split('\n')[0];
            throw new UserError($"{path}:{e.Start.Line}: {why}");
        }
        config ??= new CampaignConfig();
        config.Validate(path);
        return config;
    }

    public string ToYaml() => Writer.Serialize(this);

    public void Validate(string source)
    {
        void Check(bool ok, string field, string rule)
        {
            if (!ok) throw new UserError($"{source}: {field}: {rule}");
        }
        Check(!string.IsNullOrWhiteSpace(Name) && Name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0, "name", "a plain folder name");
        Check(Remove > 0 && Remove < 1, "remove", "must lie in (0, 1)");
        Check(BandWidth > 0 && BandWidth < 1 - Remove, "band_width", "must be positive and below the kept share");
        Check(Pairs.Count >= 10, "pairs.count", "at least 10 pairs");
        Check(Pairs.Windows > 0, "pairs.windows", "must be positive");
        Check(ObjectiveName is PredictorTarget.Nll or PredictorTarget.Kl, "objective", "nll or kl");
        Check((ObjectiveName == PredictorTarget.Kl) == (Predictor.Target == PredictorTarget.Kl), "predictor.target",
            ObjectiveName == PredictorTarget.Kl ? "must be kl when the objective is kl (the predictor learns what the search minimises)" : "kl needs objective: kl");
        Check(Predictor.Trees > 0 && Predictor.Leaves >= 2 && Predictor.LearningRate > 0 && Predictor.Ridge >= 0, "predictor",
            "trees > 0, leaves ≥ 2, learning_rate > 0, ridge ≥ 0");
        Check(Shrink.Rounds >= 0 && Shrink.SampleSize >= 10 && Shrink.TopQuantile is > 0 and < 1, "shrink", "rounds ≥ 0, sample_size ≥ 10, 0 < top_quantile < 1");
        Check(Evolution.Population >= 4 && Evolution.Generations >= 1, "evolution", "population ≥ 4, generations ≥ 1");
        Check(Active.Rounds >= 0 && Active.TopK >= 1 && Active.Patience >= 1, "active", "rounds ≥ 0, top_k ≥ 1, patience ≥ 1");
        Check(Final.MaxWindows is null or > 0, "final.max_windows", "must be positive");
        Check(Final.BlimpLimit is null or >= 0, "final.blimp_limit", "must be 0 or more");
        Check(Final.MmluLimit is null or >= 0 && Final.ZeroshotLimit is null or >= 0, "final", "limits must be 0 or more");
        Check(Final.Recover.Count > 0, "final.recover", "name at least one recovery (none, ls, lora, ls+lora)");
    }

    /// <summary>The objective's name: nll unless the file says kl.</summary>
    [JsonIgnore, YamlIgnore]
    public string ObjectiveName => Objective ?? PredictorTarget.Nll;

    /// <summary>A pair's value of the objective (lower is better).</summary>
    public double ObjectiveOf(PairRecord row) => PredictorTarget.Measured(row, ObjectiveName);

    /// <summary>The budget band of candidates (kept parameter share).</summary>
    public (double Min, double Max) Band => (1 - Remove - BandWidth, 1 - Remove);
}
