namespace NasPrune.Evaluator.Pairs;

/// <summary>
/// The calibration measure a pair records (validation data only): perplexity on <see cref="Windows"/> windows drawn
/// once, with <see cref="WindowSeed"/>, from each task's validation split; optionally a zero-shot accuracy on the
/// last <see cref="ZeroShotItems"/> items of one task (the final verification scores the others); with
/// <see cref="Measure"/> kl or both, KL(dense ‖ candidate) on the WikiText-2 windows against a dense reference of
/// <see cref="KlTopK"/> ids per position (0 = exact; see <see cref="Perplexity.DenseReference"/>).
/// </summary>
public sealed record PairEvaluationSettings(
    IReadOnlyList<string> Tasks, int Windows = 32, long WindowSeed = 1234, int BatchSize = 8,
    string? ZeroShotTask = null, int ZeroShotItems = 200, string Measure = PairMeasure.Nll, int KlTopK = PairMeasure.DefaultKlTopK)
{
    public static PairEvaluationSettings Default { get; } = new(["wikitext2"]);
}
