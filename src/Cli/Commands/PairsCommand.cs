using System.CommandLine;
using DuckDB.NET.Data;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using Spectre.Console;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune pairs list|validate|merge|compare</c>: inspect a directory of pair shards. Reading never modifies a
/// file; a corrupt or foreign file is named in a one-line error. <c>validate</c> also reads every file with DuckDB,
/// so what NasPrune writes is known to be readable by other engines.
/// </summary>
public static class PairsCommand
{
    public sealed record FileSummary(string File, int Rows, IReadOnlyList<string> BaseModels, int? DuckDbRows);
    public sealed record PairsSummary(string Directory, int Files, int Rows, int DistinctArchitectures, IReadOnlyList<string> BaseModels,
        IReadOnlyList<string> Criteria, double? MinParamRatio, double? MaxParamRatio, double? BestWikiText2Ppl, string? BestArchId,
        double? WorstWikiText2Ppl, IReadOnlyList<FileSummary> PerFile, IReadOnlyList<string> Problems,
        double? MinWikiText2Kl = null, double? MaxWikiText2Kl = null, IReadOnlyList<int>? KlTopK = null);
    public sealed record CompareResult(string Left, string Right, int LeftRows, int RightRows, int OnlyLeft, int OnlyRight, int Different, bool Same);

    public static Command Create()
    {
        var pairs = new Command("pairs", "List, validate, merge or compare directories of architecture–accuracy pairs (Parquet)");
        pairs.Subcommands.Add(Summary("list", "List pair files and summarize their rows", validate: false));
        pairs.Subcommands.Add(Summary("validate", "Check every pair file (Parquet.Net and DuckDB), duplicates and base models; exit 0 only when clean", validate: true));
        pairs.Subcommands.Add(Merge());
        pairs.Subcommands.Add(Compare());
        return pairs;
    }

    static Argument<string> DirectoryArgument(string name = "dir") => new(name) { Description = "pairs directory (every *.parquet below it)" };

    static Command Summary(string name, string description, bool validate)
    {
        var dir = DirectoryArgument();
        var json = CliOptions.Json();
        var command = new Command(name, description) { dir, json };
        command.SetAction(parse =>
        {
            var summary = Summarize(parse.GetValue(dir)!, validate);
            if (parse.GetValue(json)) Output.WriteJson(summary);
            else Print(summary);
            if (validate && summary.Problems.Count > 0)
                throw new UserError($"{summary.Directory}: {summary.Problems.Count} problem{(summary.Problems.Count > 1 ? "s" : "")}: {summary.Problems[0]}");
            return 0;
        });
        return command;
    }

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

    static void Print(PairsSummary s)
    {
        var table = new Table().AddColumns("file", "rows", "base model").AddColumn(new TableColumn("duckdb rows"));
        foreach (var f in s.PerFile) table.AddRow(Markup.Escape(f.File), $"{f.Rows}", string.Join(" ", f.BaseModels), f.DuckDbRows?.ToString() ?? "-");
        AnsiConsole.Write(table);
        Console.WriteLine($"{s.Rows} rows ({s.DistinctArchitectures} distinct architectures) in {s.Files} files; base model {string.Join(", ", s.BaseModels)}; " +
                          $"criterion {string.Join(", ", s.Criteria)}");
        if (s.Rows > 0)
            Console.WriteLine($"kept parameters {s.MinParamRatio:P1}–{s.MaxParamRatio:P1}; WikiText-2 validation PPL {s.BestWikiText2Ppl:F2} (best, {s.BestArchId}) – {s.WorstWikiText2Ppl:F2}");
        if (s.MinWikiText2Kl is double minKl)
            Console.WriteLine($"WikiText-2 validation KL(dense ‖ candidate) {minKl:F5} – {s.MaxWikiText2Kl:F5} " +
                              $"({string.Join(", ", s.KlTopK!.Select(k => k == 0 ? "exact" : $"dense top-{k} + tail"))})");
        foreach (var p in s.Problems) Console.WriteLine($"problem: {p}");
    }

    static Command Merge()
    {
        var dir = DirectoryArgument();
        var output = new Option<string>("--out") { Description = "the merged Parquet file (must not exist)", Required = true };
        var json = CliOptions.Json();
        var command = new Command("merge", "Merge every shard into one deduplicated Parquet file (rows ordered by sample index)") { dir, output, json };
        command.SetAction(parse =>
        {
            string outPath = OutputFile.Check(parse.GetValue(output)!, force: null);
            var rows = PairStore.ReadAll(parse.GetValue(dir)!);
            // Pairs of two base models measure two different things; one merged file would silently mix them.
            var models = rows.Select(r => r.BaseModel).Distinct().Order(StringComparer.Ordinal).ToList();
            if (models.Count > 1)
                throw new UserError($"{Path.GetFullPath(parse.GetValue(dir)!)}: pairs of {models.Count} base models mixed ({string.Join(" and ", models)}); merge each model's pairs separately");
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
            if (parse.GetValue(json)) Output.WriteJson(new { Out = outPath, Rows = merged.Count, Duplicates = rows.Count - merged.Count });
            else Console.WriteLine($"{merged.Count} rows ({rows.Count - merged.Count} duplicates dropped) → {outPath}");
            return 0;
        });
        return command;
    }

    static Command Compare()
    {
        var left = DirectoryArgument("left");
        var right = DirectoryArgument("right");
        var json = CliOptions.Json();
        var command = new Command("compare", "Do two pair directories hold the same architectures with the same measured values? (exit 0 same, 1 different)")
        {
            left, right, json,
        };
        command.SetAction(parse =>
        {
            var a = PairStore.ReadAll(parse.GetValue(left)!).GroupBy(r => r.ArchId).ToDictionary(g => g.Key, g => g.ToList());
            var b = PairStore.ReadAll(parse.GetValue(right)!).GroupBy(r => r.ArchId).ToDictionary(g => g.Key, g => g.ToList());
            var onlyLeft = a.Keys.Except(b.Keys).Order(StringComparer.Ordinal).ToList();
            var onlyRight = b.Keys.Except(a.Keys).Order(StringComparer.Ordinal).ToList();
            var different = a.Keys.Intersect(b.Keys).Where(id => a[id].Count != 1 || b[id].Count != 1 || !a[id][0].SameMeasurement(b[id][0]))
                .Order(StringComparer.Ordinal).ToList();
            var result = new CompareResult(Path.GetFullPath(parse.GetValue(left)!), Path.GetFullPath(parse.GetValue(right)!),
                a.Values.Sum(l => l.Count), b.Values.Sum(l => l.Count), onlyLeft.Count, onlyRight.Count, different.Count,
                onlyLeft.Count == 0 && onlyRight.Count == 0 && different.Count == 0);
            if (parse.GetValue(json)) Output.WriteJson(result);
            else
            {
                foreach (var id in onlyLeft) Console.WriteLine($"only in left: {id}");
                foreach (var id in onlyRight) Console.WriteLine($"only in right: {id}");
                foreach (var id in different) Console.WriteLine($"different values or duplicated: {id}");
                Console.WriteLine(result.Same
                    ? $"same: {result.LeftRows} rows, identical architectures and values"
                    : $"different: {onlyLeft.Count} only left, {onlyRight.Count} only right, {different.Count} differ");
            }
            return result.Same ? 0 : 1;
        });
        return command;
    }
}
