namespace NasPrune.Common.Pairs;

/// <summary>
/// Appends pairs to one worker's shard folder so that a kill at any moment loses at most the row being added:
/// after every row the current part file is rewritten whole, atomically (temp, fsync, rename), so on disk it
/// holds either the rows before or the rows after, never a torn file. A part holds up to
/// <see cref="RowsPerPart"/> rows; then the next part starts. A resumed writer continues the last part if it is not
/// full (rewriting it whole, as every add does), so a resumed run leaves the same files as an uninterrupted one.
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
        int last = System.IO.Directory.EnumerateFiles(shardDirectory, "part-*.parquet")
            .Select(f => Path.GetFileNameWithoutExtension(f)["part-".Length..])
            .Select(s => int.TryParse(s, out int k) ? k : -1).DefaultIfEmpty(-1).Max();
        part = Math.Max(last, 0);
        if (last >= 0)
        {
            var rows = PairStore.ReadFile(CurrentPath).Rows;
            if (rows.Count < rowsPerPart) current.AddRange(rows);
            else part++;
        }
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
