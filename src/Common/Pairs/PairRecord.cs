using System.Text.Json.Serialization;

namespace NasPrune.Common.Pairs;

/// <summary>
/// One architecture–accuracy pair: a row of the Parquet pair store. Column names are snake_case so DuckDB,
/// pandas and pyarrow read them as written. Per-layer values are list columns (one entry per base layer).
/// Metrics a run did not measure are null. Everything a row needs to be compared or reproduced is in it:
/// the architecture, the base model, the evaluation protocol and who produced it.
/// </summary>
public sealed class PairRecord
{
    /// <summary>Columns every NasPrune pair file has; a file without them is not a pair shard.</summary>
    public static readonly string[] RequiredColumns =
        ["arch_id", "base_model", "architecture", "head_ratio", "ffn_ratio", "layer_kept", "params", "param_ratio", "wikitext2_nll"];

    [JsonPropertyName("arch_id")] public string ArchId { get; set; } = "";
    [JsonPropertyName("base_model")] public string BaseModel { get; set; } = "";
    /// <summary>The architecture JSON (shared DESIGN format): absolute kept counts, so the row rebuilds the candidate.</summary>
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("head_ratio")] public List<double> HeadRatio { get; set; } = [];
    [JsonPropertyName("ffn_ratio")] public List<double> FfnRatio { get; set; } = [];
    [JsonPropertyName("layer_kept")] public List<double> LayerKept { get; set; } = [];

    [JsonPropertyName("params")] public long Params { get; set; }
    [JsonPropertyName("param_ratio")] public double ParamRatio { get; set; }
    [JsonPropertyName("flops_per_token")] public double FlopsPerToken { get; set; }
    [JsonPropertyName("flops_ratio")] public double FlopsRatio { get; set; }

    [JsonPropertyName("wikitext2_nll")] public double WikiText2Nll { get; set; }
    [JsonPropertyName("wikitext2_ppl")] public double WikiText2Ppl { get; set; }
    /// <summary>Mean per-token KL(dense ‖ candidate) on the same windows as wikitext2_nll (null: not measured).</summary>
    [JsonPropertyName("wikitext2_kl")] public double? WikiText2Kl { get; set; }
    /// <summary>Dense ids per position the KL was computed over (plus a tail bucket: a lower bound); 0 = exact KL.</summary>
    [JsonPropertyName("kl_top_k")] public int? KlTopK { get; set; }
    [JsonPropertyName("ptb_nll")] public double? PtbNll { get; set; }
    [JsonPropertyName("ptb_ppl")] public double? PtbPpl { get; set; }
    [JsonPropertyName("zeroshot_task")] public string? ZeroShotTask { get; set; }
    [JsonPropertyName("zeroshot_acc")] public double? ZeroShotAcc { get; set; }

    [JsonPropertyName("criterion")] public string Criterion { get; set; } = "";
    [JsonPropertyName("calibration_seed")] public long CalibrationSeed { get; set; }
    [JsonPropertyName("eval_split")] public string EvalSplit { get; set; } = "validation";
    [JsonPropertyName("eval_windows")] public int EvalWindows { get; set; }
    [JsonPropertyName("eval_seq_len")] public int EvalSeqLen { get; set; }
    [JsonPropertyName("window_seed")] public long WindowSeed { get; set; }

    [JsonPropertyName("sample_seed")] public long SampleSeed { get; set; }
    /// <summary>Position in the seeded candidate stream (the unit shards partition).</summary>
    [JsonPropertyName("sample_index")] public int SampleIndex { get; set; }
    [JsonPropertyName("shard_index")] public int ShardIndex { get; set; }
    [JsonPropertyName("shard_count")] public int ShardCount { get; set; }
    [JsonPropertyName("source")] public string Source { get; set; } = PairSource.Sample;
    [JsonPropertyName("nasprune_version")] public string NasPruneVersion { get; set; } = "";
    [JsonPropertyName("wall_seconds")] public double WallSeconds { get; set; }
    [JsonPropertyName("forward_seconds")] public double ForwardSeconds { get; set; }

    public Architecture ToArchitecture(string source) => Common.Architecture.FromJson(Architecture, source);

    /// <summary>True when both rows hold the same candidate and the same measured values (wall times aside).</summary>
    public bool SameMeasurement(PairRecord o) =>
        ArchId == o.ArchId && BaseModel == o.BaseModel && Architecture == o.Architecture
        && WikiText2Nll.Equals(o.WikiText2Nll) && Nullable.Equals(WikiText2Kl, o.WikiText2Kl) && Nullable.Equals(PtbNll, o.PtbNll) && Nullable.Equals(ZeroShotAcc, o.ZeroShotAcc)
        && Criterion == o.Criterion && EvalWindows == o.EvalWindows && WindowSeed == o.WindowSeed;
}
