using System.Text.Json.Serialization;

namespace NasPrune.Search.Campaign;

/// <summary>A method row of the campaign's final table (its <c>method</c> field in results.json and report.md).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CampaignMethod>))]
public enum CampaignMethod
{
    /// <summary>The base model itself.</summary>
    [JsonStringEnumMemberName("dense")] Dense,
    /// <summary>Every layer keeps the same share of heads and channels.</summary>
    [JsonStringEnumMemberName("uniform")] Uniform,
    /// <summary>Per-layer keep ratios from standardised importance scores (OWL/FLAP-style), no search, no real evaluation.</summary>
    [JsonStringEnumMemberName("adaptive")] Adaptive,
    /// <summary>The best of as many random architectures as NasPrune's real window-evaluations pay for.</summary>
    [JsonStringEnumMemberName("random")] Random,
    /// <summary>EvoPress-style (1+λ) evolution on real evaluations only (no predictor), with NasPrune's window-evaluation budget.</summary>
    [JsonStringEnumMemberName("evolution")] Evolution,
    /// <summary>The best architecture of the predictor-guided search.</summary>
    [JsonStringEnumMemberName("nasprune")] NasPrune,
}

public static class CampaignMethodNames
{
    /// <summary>The name results.json, file names and the report use.</summary>
    public static string Key(this CampaignMethod method) => method switch
    {
        CampaignMethod.Dense => "dense",
        CampaignMethod.Uniform => "uniform",
        CampaignMethod.Adaptive => "adaptive",
        CampaignMethod.Random => "random",
        CampaignMethod.Evolution => "evolution",
        CampaignMethod.NasPrune => "nasprune",
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };
}
