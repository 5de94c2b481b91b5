using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Evaluator.Pairs;

/// <summary>What one run of the pairs stage did, and where its time went.</summary>
public sealed record PairRunSummary(
    string Shard, int StreamLength, int Owned, int AlreadyPresent, int Evaluated, double Seconds, double ForwardSeconds)
{
    public double PairsPerHour => Seconds > 0 ? Evaluated * 3600.0 / Seconds : 0;

    /// <summary>Share of the loop's wall time spent outside model forwards (apply, bookkeeping, Parquet writes).</summary>
    public double OutsideForwardShare => Seconds > 0 ? 1 - ForwardSeconds / Seconds : 0;
}

/// <summary>
/// The pairs stage's loop: walks the seeded candidate stream, keeps this worker's positions (<see cref="ShardSpec"/>),
/// skips architecture ids already in the pairs directory (resume), evaluates the rest and appends each row at once
/// through a <see cref="ShardWriter"/>, so a kill loses at most the candidate in flight. It owns the directory's
/// <see cref="PairProtocol"/>: before any row is appended, the directory's protocol must be this one (or is written).
/// </summary>
public sealed class PairRunner
{
    readonly PairEvaluator evaluator;
    readonly string pairsDirectory;
    readonly ShardSpec shard;
    readonly int rowsPerPart;

    public PairRunner(PairEvaluator evaluator, string pairsDirectory, PairProtocol protocol, ShardSpec shard, int rowsPerPart = 64)
    {
        protocol.CheckOrWrite(pairsDirectory);
        (this.evaluator, this.pairsDirectory, this.shard, this.rowsPerPart) = (evaluator, pairsDirectory, shard, rowsPerPart);
    }

    public PairRunSummary Run(IReadOnlyList<Architecture> stream, long sampleSeed, string source = PairSource.Sample, IProgress<int>? progress = null)
    {
        var present = PairStore.ExistingIds(pairsDirectory);
        var todo = new List<(int Position, Architecture Arch)>();
        int owned = 0;
        for (int p = 0; p < stream.Count; p++)
        {
            if (!shard.Owns(p)) continue;
            owned++;
            if (!present.Contains(stream[p].Id)) todo.Add((p, stream[p]));
        }
        var writer = new ShardWriter(Path.Combine(pairsDirectory, shard.DirectoryName), rowsPerPart);
        var watch = Stopwatch.StartNew();
        double forward = 0;
        for (int k = 0; k < todo.Count; k++)
        {
            var started = watch.Elapsed;
            var row = evaluator.Evaluate(todo[k].Arch, out double seconds);
            forward += seconds;
            row.SampleSeed = sampleSeed;
            row.SampleIndex = todo[k].Position;
            row.ShardIndex = shard.Index;
            row.ShardCount = shard.Count;
            row.Source = source;
            row.WallSeconds = (watch.Elapsed - started).TotalSeconds;
            writer.Add(row);
            progress?.Report(k + 1);
        }
        return new PairRunSummary(shard.ToString(), stream.Count, owned, owned - todo.Count, todo.Count, watch.Elapsed.TotalSeconds, forward);
    }
}
