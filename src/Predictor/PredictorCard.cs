using System.Text.Json;
using System.Text.Json.Serialization;
using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>
/// Everything needed to use and judge a saved predictor, stored as JSON beside the ML.NET model zip: the base model
/// (hash and config.json text, enough to featurize), the importance profile of the zero-cost proxies, the feature
/// names, target, options, which pairs it saw (hash) and how well it did (cross-validation, held-out).
/// </summary>
public sealed record PredictorCard
{
    public const int CurrentFormat = 1;

    public int Format { get; init; } = CurrentFormat;
    public required string BaseModel { get; init; }
    /// <summary>The base model's config.json as written by <see cref="ModelConfig.ToJson"/>.</summary>
    public required string ConfigJson { get; init; }
    public ImportanceProfile? Profile { get; init; }
    [JsonConverter(typeof(PredictorTargetJsonConverter))]
    public required PredictorTarget Target { get; init; }
    public required PredictorOptions Options { get; init; }
    public required IReadOnlyList<string> FeatureNames { get; init; }
    public required string TrainingSetHash { get; init; }
    public required int TrainingPairs { get; init; }
    public UniformReference? Uniform { get; init; }
    /// <summary>The linear trend under the trees (null when trained with ridge lambda 0 or for the linear model).</summary>
    public RidgeBase? Ridge { get; init; }
    /// <summary>k-fold cross-validation on the training pairs, per model (predictor and baselines).</summary>
    public IReadOnlyDictionary<string, MetricSet>? CrossValidation { get; init; }
    /// <summary>Metrics on pairs the predictor never saw, per model.</summary>
    public IReadOnlyDictionary<string, MetricSet>? HeldOut { get; init; }
    public string? HeldOutSetHash { get; init; }

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>Where the card of a model zip lives: <c>model.zip</c> → <c>model.card.json</c>.</summary>
    public static string PathFor(string modelPath) => Path.ChangeExtension(modelPath, ".card.json");

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    public static PredictorCard Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: predictor card not found (it is written beside the model zip)");
        PredictorCard? card;
        try { card = JsonSerializer.Deserialize<PredictorCard>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new UserError($"{path}: malformed predictor card ({e.Message})"); }
        if (card is null) throw new UserError($"{path}: empty predictor card");
        if (card.Format != CurrentFormat) throw new UserError($"{path}: predictor card format {card.Format}, this NasPrune reads {CurrentFormat}");
        return card;
    }
}
