using System.Text.Json;
using System.Text.Json.Serialization;
using NasPrune.Common;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Perplexity;

namespace NasPrune.Search.Campaign;

/// <summary>One perplexity task's test windows: each window's summed NLL and predicted-token count, in window order.</summary>
public sealed record WindowSamples(string Task, IReadOnlyList<double> Nll, IReadOnlyList<long> Tokens);

/// <summary>
/// One stratum of scored items (a BLiMP paradigm, the MMLU questions, a zero-shot task): 1 where the item was right,
/// 0 where wrong, in item order; <paramref name="Metric"/> names the zero-shot metric the outcomes are under.
/// </summary>
public sealed record ItemSamples(string Name, IReadOnlyList<int> Correct, string? Metric = null)
{
    [JsonIgnore] public double Mean => Correct.Count == 0 ? 0 : Correct.Sum() / (double)Correct.Count;

    public static ItemSamples Of(string name, IReadOnlyList<bool> correct, string? metric = null) =>
        new(name, correct.Select(c => c ? 1 : 0).ToList(), metric);
}

/// <summary>
/// final/&lt;method&gt;-&lt;recovery&gt;.samples.json: the per-window and per-item values behind one result row, so
/// <see cref="CampaignConfidence"/> can resample the same test items for two methods (paired bootstrap) without
/// rerunning a model, and a resumed campaign or `nasprune report` reloads them. Written before the row, so a row on
/// disk implies its samples (except in runs made before samples existed: those rows get no intervals).
/// Compact JSON: a full BLiMP run has 67,000 outcomes per row.
/// </summary>
public sealed record FinalSamples(CampaignMethod Method, string Recovery, IReadOnlyList<WindowSamples> Perplexity,
    IReadOnlyList<ItemSamples>? Blimp = null, IReadOnlyList<ItemSamples>? Mmlu = null, IReadOnlyList<ItemSamples>? Zeroshot = null)
{
    static readonly JsonSerializerOptions Compact = new(JsonFile.Options) { WriteIndented = false };

    public static FinalSamples Of(CampaignMethod method, string recovery, IEnumerable<PerplexityResult> perplexity,
        BlimpResult? blimp, MmluResult? mmlu, IReadOnlyList<MultipleChoiceResult>? zeroShot) => new(method, recovery,
        perplexity.Select(p => new WindowSamples(p.Task, Required(p.WindowNll, p.Task), Required(p.WindowTokens, p.Task))).ToList(),
        blimp?.Paradigms.Select(p => ItemSamples.Of(p.Paradigm, Required(p.Correct, p.Paradigm))).ToList(),
        mmlu is null ? null : [ItemSamples.Of(mmlu.Task, Required(mmlu.Correct, mmlu.Task))],
        zeroShot?.Select(t => ItemSamples.Of(t.Task, Required(t.ReportedCorrect, t.Task), t.Metric)).ToList());

    static IReadOnlyList<T> Required<T>(IReadOnlyList<T>? values, string what) =>
        values ?? throw new InvalidOperationException($"{what}: the evaluator kept no per-sample values");

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Compact) + "\n");

    public static FinalSamples Load(string path) => JsonFile.Load<FinalSamples>(path, "final samples (per-window and per-item values)");
}
