using NasPrune.Common;

namespace NasPrune.Search.Campaign;

/// <summary>
/// timings.json: wall seconds per campaign stage, summed over every process that worked on the run (a resumed run
/// adds what it spent), so the share of each stage — the predictor's above all — is known for the whole campaign.
/// Saved after each stage.
/// </summary>
public sealed class StageTimings
{
    readonly string path;
    readonly SortedDictionary<string, double> seconds;

    public StageTimings(string path)
    {
        this.path = path;
        seconds = File.Exists(path) ? JsonFile.Load<SortedDictionary<string, double>>(path, "stage timings") : new(StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, double> Seconds => seconds;

    public T Time<T>(string stage, Func<T> work)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try { return work(); }
        finally { Add(stage, watch.Elapsed.TotalSeconds); }
    }

    public void Time(string stage, Action work) => Time(stage, () => { work(); return 0; });

    public void Add(string stage, double elapsed)
    {
        seconds[stage] = seconds.GetValueOrDefault(stage) + elapsed;
        JsonFile.Save(path, seconds);
    }

    public static IReadOnlyDictionary<string, double> Load(string path) =>
        File.Exists(path) ? JsonFile.Load<SortedDictionary<string, double>>(path, "stage timings") : new SortedDictionary<string, double>();
}
