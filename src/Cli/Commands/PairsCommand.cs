using System.CommandLine;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using static NasPrune.Common.Pairs.PairInspection;
using Spectre.Console;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune pairs list|validate|merge|compare</c>: inspect a directory of pair shards. Reading never modifies a
/// file; a corrupt or foreign file is named in a one-line error. <c>validate</c> also reads every file with DuckDB,
/// so what NasPrune writes is known to be readable by other engines.
/// </summary>
public static class PairsCommand
{
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
            var summary = PairInspection.Summarize(parse.GetValue(dir)!, validate);
            if (parse.GetValue(json)) Output.WriteJson(summary);
            else Print(summary);
            if (validate && summary.Problems.Count > 0)
                throw new UserError($"{summary.Directory}: {summary.Problems.Count} problem{(summary.Problems.Count > 1 ? "s" : "")}: {summary.Problems[0]}");
            return 0;
        });
        return command;
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
            var (merged, duplicates) = PairInspection.Merge(parse.GetValue(dir)!, outPath);
            if (parse.GetValue(json)) Output.WriteJson(new { Out = outPath, Rows = merged, Duplicates = duplicates });
            else Console.WriteLine($"{merged} rows ({duplicates} duplicates dropped) → {outPath}");
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
            var (result, onlyLeft, onlyRight, different) = PairInspection.Compare(parse.GetValue(left)!, parse.GetValue(right)!);
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
