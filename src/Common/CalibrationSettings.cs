namespace NasPrune.Common;

/// <summary>
/// How calibration text is drawn: <see cref="Sequences"/> windows of <see cref="SeqLen"/> tokens (0 = the model's
/// context length) at seeded random positions of a task's *validation* split. Search never sees test data.
/// </summary>
public sealed record CalibrationSettings(string Task = "wikitext2", int Sequences = 32, int SeqLen = 0, long Seed = 1234)
{
    /// <summary>A short key for cache file names.</summary>
    public string Key => $"{Task}-n{Sequences}-l{SeqLen}-s{Seed}";
}
