using Parquet;
using Parquet.Serialization;

namespace NasPrune.Common.Pairs;

/// <summary>One Parquet file of pairs and the rows it holds.</summary>
public sealed record PairFile(string Path, IReadOnlyList<PairRecord> Rows);

/// <summary>
/// A directory of pair shards (docs/ARCHITECTURE.md: <c>pairs/shard-&lt;i&gt;-of-&lt;N&gt;/part-&lt;k&gt;.parquet</c>; any
/// *.parquet below the directory counts). Reading validates every file: a file that is not Parquet, or Parquet
/// without the pair columns, is a <see cref="UserError"/> naming it. Files are never modified by reading.
/// </summary>
public static class PairStore
{
    /// <summary>Every pair file below <paramref name="directory"/>, in a stable order (temporary files skipped).</summary>
    public static IReadOnlyList<string> Files(string directory)
    {
        if (!Directory.Exists(directory)) throw new UserError($"{directory}: pairs directory not found");
        return Directory.EnumerateFiles(directory, "*.parquet", SearchOption.AllDirectories)
            .Where(f => !System.IO.Path.GetFileName(f).StartsWith('.'))
            .Order(StringComparer.Ordinal).ToList();
    }

    public static IReadOnlyList<PairFile> ReadDirectory(string directory) => Files(directory).Select(ReadFile).ToList();

    /// <summary>All rows below a directory; an empty or missing directory is an error (nothing to learn from).</summary>
    public static IReadOnlyList<PairRecord> ReadAll(string directory)
    {
        var files = ReadDirectory(directory);
        if (files.Count == 0) throw new UserError($"{directory}: no pair files (*.parquet) found");
        return files.SelectMany(f => f.Rows).ToList();
    }

    public static PairFile ReadFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            CheckSchema(path, stream);
            stream.Position = 0;
            var result = ParquetSerializer.DeserializeAsync<PairRecord>(stream).GetAwaiter().GetResult();
            return new PairFile(path, result.Data.ToList());
        }
        catch (UserError) { throw; }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or ArgumentException
                                      or InvalidOperationException or NotSupportedException or IndexOutOfRangeException
                                      or OverflowException || e.GetType().Namespace?.StartsWith("Parquet") == true)
        {
            throw new UserError($"{path}: unreadable pair shard ({e.GetType().Name}: {e.Message.Split('\n')[0]})");
        }
    }

    static void CheckSchema(string path, Stream stream)
    {
        var schema = ParquetReader.ReadSchemaAsync(stream).GetAwaiter().GetResult();
        var names = schema.Fields.Select(f => f.Name).ToHashSet();
        var missing = PairRecord.RequiredColumns.Where(c => !names.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new UserError($"{path}: not a NasPrune pair shard (missing column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)})");
    }

    /// <summary>Writes rows as one Parquet file atomically (temp file, fsync, rename): readers see all rows or none.</summary>
    public static void WriteFile(string path, IReadOnlyCollection<PairRecord> rows) =>
        AtomicFile.Write(path, fs => ParquetSerializer.SerializeAsync(rows, fs).GetAwaiter().GetResult());

    /// <summary>Architecture ids present below a directory (empty when it does not exist yet).</summary>
    public static HashSet<string> ExistingIds(string directory) =>
        Directory.Exists(directory) ? ReadDirectory(directory).SelectMany(f => f.Rows).Select(r => r.ArchId).ToHashSet() : [];
}
