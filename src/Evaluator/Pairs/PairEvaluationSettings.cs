namespace NasPrune.Evaluator.Pairs;

/// <summary>
/// The calibration measure a pair records (validation data only): perplexity on <see cref="Windows"/> windows drawn
/// once, with <see cref="WindowSeed"/>, from each task's validation split; optionally a zero-shot accuracy on the
/// last <see cref="ZeroShotItems"/> items of one task (the final verification scores the others).
/// </summary>
public sealed record PairEvaluationSettings(
    IReadOnlyList<string> Tasks, int Windows = 64, long WindowSeed = 1234, int BatchSize = 8,
    string? ZeroShotTask = null, int ZeroShotItems = 200)
{
    public static PairEvaluationSettings Default { get; } = new(["wikitext2"]);
}
