namespace NasPrune.Common.Pairs;

/// <summary>
/// Appends pairs to one worker's shard folder so that a kill at any moment loses at most the row being added:
/// after every row the current part file is rewritten whole, atomically (temp, fsync, rename), so on disk it
/// holds either the rows before or the rows after, never a torn file. A part holds up to
/// <see cref="RowsPerPart"/> rows; then the next part starts. Existing parts are never touched: a resumed run
/// starts a new part after the highest one present.
/// </summary>
public sealed class ShardWriter
{
    public string Directory { get; }
    public int RowsPerPart { get; }
    readonly List<PairRecord> current = [];
    int part;

    public ShardWriter(string shardDirectory, int rowsPerPart = 64)
    {
        if (rowsPerPart <= 0) throw new UserError($"rows per part {rowsPerPart}: must be positive");
        Directory = shardDirectory;
        RowsPerPart = rowsPerPart;
        System.IO.Directory.CreateDirectory(shardDirectory);
        // Temporary files of writes a kill cut short (the rename never happened). One writer owns a shard folder,
        // so any found at start are orphans.
        foreach (var orphan in System.IO.Directory.EnumerateFiles(shardDirectory, ".part-*.tmp")) File.Delete(orphan);
        part = System.IO.Directory.EnumerateFiles(shardDirectory, "part-*.parquet")
            .Select(f => Path.GetFileNameWithoutExtension(f)["part-".Length..])
            .Select(s => int.TryParse(s, out int k) ? k : -1).DefaultIfEmpty(-1).Max() + 1;
    }

    public string CurrentPath => Path.Combine(Directory, $"part-{part:D5}.parquet");

    public void Add(PairRecord row)
    {
        if (current.Count == RowsPerPart)
        {
            current.Clear();
            part++;
        }
        current.Add(row);
        PairStore.WriteFile(CurrentPath, current);
    }
}
