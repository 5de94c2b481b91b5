using DuckDB.NET.Data;

namespace NasPrune.Common.Pairs;

/// <summary>
/// Reading whole pairs directories: a summary (with <c>validate</c>, every check a pairs directory must pass, including
/// that DuckDB's own Parquet reader reads each file), a deduplicated merge into one file, and a comparison of two
/// directories by architecture id and measured values. Reading never modifies a file.
/// </summary>
public static class PairInspection
{
    public sealed record FileSummary(string File, int Rows, IReadOnlyList<string> BaseModels, int? DuckDbRows);
    public sealed record PairsSummary(string Directory, int Files, int Rows, int DistinctArchitectures, IReadOnlyList<string> BaseModels,
        IReadOnlyList<string> Criteria, double? MinParamRatio, double? MaxParamRatio, double? BestWikiText2Ppl, string? BestArchId,
        double? WorstWikiText2Ppl, IReadOnlyList<FileSummary> PerFile, IReadOnlyList<string> Problems,
        double? MinWikiText2Kl = null, double? MaxWikiText2Kl = null, IReadOnlyList<int>? KlTopK = null);
    public sealed record CompareResult(string Left, string Right, int LeftRows, int RightRows, int OnlyLeft, int OnlyRight, int Different, bool Same);

    public static PairsSummary Summarize(string directory, bool validate)
    {
        var files = PairStore.ReadDirectory(directory);
        if (files.Count == 0) throw new UserError($"{directory}: no pair files (*.parquet) found");
        var problems = new List<string>();
        var rows = files.SelectMany(f => f.Rows.Select(r => (f.Path, Row: r))).ToList();
        var perFile = files.Select(f => new FileSummary(Path.GetRelativePath(directory, f.Path), f.Rows.Count,
            f.Rows.Select(r => r.BaseModel).Distinct().ToList(), validate ? DuckDbRowCount(f.Path) : null)).ToList();
        if (validate)
        {
            foreach (var f in perFile.Where(f => f.DuckDbRows != f.Rows))
                problems.Add($"{f.File}: DuckDB reads {f.DuckDbRows} rows, Parquet.Net {f.Rows}");
            foreach (var group in rows.GroupBy(r => r.Row.ArchId).Where(g => g.Count() > 1))
            {
                var first = group.First();
                bool same = group.All(r => r.Row.SameMeasurement(first.Row));
                problems.Add($"architecture {group.Key} appears {group.Count()} times ({(same ? "identical" : "different values")}: " +
                             string.Join(", ", group.Select(r => Path.GetRelativePath(directory, r.Path)).Distinct()) + ")");
            }
            foreach (var (path, row) in rows)
            {
                int layers = row.HeadRatio.Count;
                if (row.FfnRatio.Count != layers || row.LayerKept.Count != layers)
                    problems.Add($"{Path.GetRelativePath(directory, path)}: architecture {row.ArchId} has per-layer lists of different lengths");
                if (!double.IsFinite(row.WikiText2Nll))
                    problems.Add($"{Path.GetRelativePath(directory, path)}: architecture {row.ArchId} has a non-finite wikitext2_nll");
                // A KL is never negative; a top-k value may be 0 only for the dense architecture, so allow float rounding.
                if (row.WikiText2Kl is double kl && !(double.IsFinite(kl) && kl > -1e-6))
                    problems.Add($"{Path.GetRelativePath(directory, path)}: architecture {row.ArchId} has an invalid wikitext2_kl {kl}");
                try
                {
                    if (row.ToArchitecture(path).Id != row.ArchId)
                        problems.Add($"{Path.GetRelativePath(directory, path)}: arch_id {row.ArchId} does not match its architecture column");
                }
                catch (UserError e) { problems.Add(e.Message); }
            }
            if (rows.Select(r => r.Row.BaseModel).Distinct().Count() > 1)
                problems.Add($"rows from {rows.Select(r => r.Row.BaseModel).Distinct().Count()} base models mixed in one directory");
        }
        var best = rows.Count == 0 ? default : rows.MinBy(r => r.Row.WikiText2Nll);
        var kls = rows.Select(r => r.Row.WikiText2Kl).OfType<double>().ToList();
        return new PairsSummary(Path.GetFullPath(directory), files.Count, rows.Count, rows.Select(r => r.Row.ArchId).Distinct().Count(),
            rows.Select(r => r.Row.BaseModel).Distinct().ToList(), rows.Select(r => r.Row.Criterion).Distinct().ToList(),
            rows.Count == 0 ? null : rows.Min(r => r.Row.ParamRatio), rows.Count == 0 ? null : rows.Max(r => r.Row.ParamRatio),
            best.Row?.WikiText2Ppl, best.Row?.ArchId, rows.Count == 0 ? null : rows.Max(r => r.Row.WikiText2Ppl), perFile, problems,
            kls.Count == 0 ? null : kls.Min(), kls.Count == 0 ? null : kls.Max(),
            kls.Count == 0 ? null : rows.Select(r => r.Row.KlTopK).OfType<int>().Distinct().Order().ToList());
    }

    /// <summary>Rows DuckDB reads from the file: the interoperability check (DuckDB has its own Parquet reader).</summary>
    static int DuckDbRowCount(string path)
    {
        try
        {
            using var connection = new DuckDBConnection("DataSource=:memory:");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM read_parquet('{path.Replace("'", "''")}')";
            return Convert.ToInt32(command.ExecuteScalar());
        }
        catch (DuckDBException e)
        {
            throw new UserError($"{path}: DuckDB cannot read it ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>
    /// Merges every row of <paramref name="directory"/> into one Parquet file, one row per architecture, ordered by
    /// sample index; refuses two base models (two different measures) and duplicates with different values.
    /// </summary>
    public static (int Rows, int Duplicates) Merge(string directory, string outPath)
    {
        var rows = PairStore.ReadAll(directory);
        // Pairs of two base models measure two different things; one merged file would silently mix them.
        var models = rows.Select(r => r.BaseModel).Distinct().Order(StringComparer.Ordinal).ToList();
        if (models.Count > 1)
            throw new UserError($"{Path.GetFullPath(directory)}: pairs of {models.Count} base models mixed ({string.Join(" and ", models)}); merge each model's pairs separately");
        var merged = new List<PairRecord>();
        foreach (var group in rows.GroupBy(r => r.ArchId))
        {
            var first = group.First();
            if (group.Any(r => !r.SameMeasurement(first)))
                throw new UserError($"architecture {group.Key}: rows with different values; refusing to pick one (run `pairs validate`)");
            merged.Add(first);
        }
        merged = merged.OrderBy(r => r.SampleIndex).ThenBy(r => r.ArchId, StringComparer.Ordinal).ToList();
        PairStore.WriteFile(outPath, merged);
        return (merged.Count, rows.Count - merged.Count);
    }

    /// <summary>Do two directories hold the same architectures with the same measured values (timings aside)?</summary>
    public static (CompareResult Result, IReadOnlyList<string> OnlyLeft, IReadOnlyList<string> OnlyRight, IReadOnlyList<string> Different) Compare(string left, string right)
    {
        var a = PairStore.ReadAll(left).GroupBy(r => r.ArchId).ToDictionary(g => g.Key, g => g.ToList());
        var b = PairStore.ReadAll(right).GroupBy(r => r.ArchId).ToDictionary(g => g.Key, g => g.ToList());
        var onlyLeft = a.Keys.Except(b.Keys).Order(StringComparer.Ordinal).ToList();
        var onlyRight = b.Keys.Except(a.Keys).Order(StringComparer.Ordinal).ToList();
        var different = a.Keys.Intersect(b.Keys).Where(id => a[id].Count != 1 || b[id].Count != 1 || !a[id][0].SameMeasurement(b[id][0]))
            .Order(StringComparer.Ordinal).ToList();
        var result = new CompareResult(Path.GetFullPath(left), Path.GetFullPath(right),
            a.Values.Sum(l => l.Count), b.Values.Sum(l => l.Count), onlyLeft.Count, onlyRight.Count, different.Count,
            onlyLeft.Count == 0 && onlyRight.Count == 0 && different.Count == 0);
        return (result, onlyLeft, onlyRight, different);
    }
}
