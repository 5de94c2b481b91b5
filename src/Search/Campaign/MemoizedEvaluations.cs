using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Pairs;

namespace NasPrune.Search.Campaign;

/// <summary>
/// Real evaluations of one search method at two fidelities, each appended to its own pairs folder as it finishes
/// and looked up there first: a candidate already measured at a fidelity is never measured again. A search that
/// asks in a deterministic order therefore resumes after a crash by replaying itself: every answer it already paid
/// for comes from disk, and only the rest costs forward passes. Screens use the first windows of the full
/// measure's seeded window order (a <see cref="PairEvaluator"/> with fewer windows and the same seed), so a screen is
/// a cheaper, noisier estimate of the same quantity.
/// </summary>
public sealed class MemoizedEvaluations
{
    readonly PairEvaluator full;
    readonly PairEvaluator? screen;
    readonly ShardWriter fullWriter;
    readonly ShardWriter? screenWriter;
    readonly Dictionary<string, PairRecord> fullById;
    readonly Dictionary<string, PairRecord> screenById;
    readonly long seed;

    /// <param name="known">Full-fidelity rows measured elsewhere that count as measured (e.g. the initial pairs).</param>
    public MemoizedEvaluations(PairEvaluator full, PairEvaluator? screen, string fullDir, string screenDir, long seed, IEnumerable<PairRecord>? known = null)
    {
        this.full = full;
        this.screen = screen;
        this.seed = seed;
        fullWriter = new ShardWriter(fullDir);
        screenWriter = screen is null ? null : new ShardWriter(screenDir);
        fullById = ById((known ?? []).Concat(Stored(fullDir)));
        screenById = screen is null ? [] : ById(Stored(screenDir));
    }

    static IReadOnlyList<PairRecord> Stored(string dir) => PairStore.Files(dir).Count > 0 ? PairStore.ReadAll(dir) : [];

    static Dictionary<string, PairRecord> ById(IEnumerable<PairRecord> rows) =>
        rows.GroupBy(r => r.ArchId).ToDictionary(g => g.Key, g => g.First());

    public int FullWindows => full.Settings.Windows;
    public int ScreenWindows => screen?.Settings.Windows ?? 0;

    public bool IsMeasured(string archId) => fullById.ContainsKey(archId);

    public PairRecord? Measured(string archId) => fullById.GetValueOrDefault(archId);

    public IEnumerable<PairRecord> AllMeasured => fullById.Values;

    /// <summary>The full-fidelity row of a candidate, measured now unless already known.</summary>
    public PairRecord Full(Architecture a, string source, int index) => Get(a, source, index, full, fullWriter, fullById);

    /// <summary>The screen-fidelity row of a candidate, measured now unless already screened.</summary>
    public PairRecord Screen(Architecture a, string source, int index)
    {
        if (screen is null || screenWriter is null) throw new InvalidOperationException("no screen fidelity configured");
        return Get(a, source, index, screen, screenWriter, screenById);
    }

    PairRecord Get(Architecture a, string source, int index, PairEvaluator evaluator, ShardWriter writer, Dictionary<string, PairRecord> memo)
    {
        if (memo.TryGetValue(a.Id, out var known)) return known;
        var started = Stopwatch.StartNew();
        var row = evaluator.Evaluate(a, out _);
        row.Source = source;
        row.ShardIndex = 0;
        row.ShardCount = 1;
        row.SampleSeed = seed;
        row.SampleIndex = index;
        row.WallSeconds = started.Elapsed.TotalSeconds;
        writer.Add(row);
        memo[a.Id] = row;
        return row;
    }
}
