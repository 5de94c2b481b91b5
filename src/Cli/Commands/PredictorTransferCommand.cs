using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Predictor;
using Spectre.Console;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune predictor transfer</c>: the transfer study (zero-shot, fine-tuned and pooled vs from scratch with
/// few pairs of a new model family), printed as a table.
/// </summary>
public static class PredictorTransferCommand
{
    public static Command Create()
    {
        var sourcePairs = new Option<string>("--source-pairs") { Description = "pairs of the old family (the predictor's training data)", Required = true };
        var sourceModel = new Option<string?>("--source-model") { Description = "the old family's model directory (default: the embedded model)" };
        var pairs = new Option<string>("--pairs") { Description = "pairs of the new family to draw the few training pairs from", Required = true };
        var heldOut = new Option<string>("--heldout") { Description = "held-out pairs of the new family (scored by every method)", Required = true };
        var model = new Option<string>("--model") { Description = "the new family's model directory", Required = true };
        var sizes = new Option<int[]>("--sizes") { Description = "numbers of new-family pairs", DefaultValueFactory = _ => [25, 50, 100], AllowMultipleArgumentsPerToken = true };
        var repeats = new Option<int>("--repeats") { Description = "random subsets per size", DefaultValueFactory = _ => 5 };
        var data = CliOptions.Data();
        var json = CliOptions.Json();
        var set = new PredictorCommand.OptionSet();
        var command = new Command("transfer", "Transfer study: old-family predictor zero-shot / fine-tuned / pooled vs from scratch on a new family")
        {
            sourcePairs, sourceModel, pairs, heldOut, model, sizes, repeats, data, json,
        };
        foreach (var o in set.All) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var options = set.Read(parse) with { PerLayerFeatures = false };
            string oldDir = parse.GetValue(sourceModel) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            string newDir = parse.GetValue(model)!;
            var (source, sourceProfile) = PairDirectoryReader.ReadPairs(parse.GetValue(sourcePairs)!, HfCheckpoint.LoadConfig(oldDir), HfCheckpoint.ModelHash(oldDir), oldDir);
            var newConfig = HfCheckpoint.LoadConfig(newDir);
            string newHash = HfCheckpoint.ModelHash(newDir);
            var (pool, targetProfile) = PairDirectoryReader.ReadPairs(parse.GetValue(pairs)!, newConfig, newHash, newDir);
            var (held, _) = PairDirectoryReader.ReadPairs(parse.GetValue(heldOut)!, newConfig, newHash, newDir);
            var result = Output.WithStatus("transfer study", () => TransferStudy.Run(source, sourceProfile, pool, held, targetProfile,
                options, parse.GetValue(sizes)!, parse.GetValue(repeats), options.Seed));
            if (parse.GetValue(json)) { Output.WriteJson(result); return 0; }
            Console.WriteLine($"old family {result.SourceModel} ({result.SourcePairs} pairs) → new family {result.TargetModel} " +
                              $"(pool {result.TargetPool}, held-out {result.TargetHeldOut}); target {result.Target}; depth-invariant features");
            Console.WriteLine($"zero-shot on the new family's held-out pairs: Kendall τ {result.ZeroShot.KendallTau:F3}, Spearman ρ {result.ZeroShot.Spearman:F3}, top-10% {result.ZeroShot.TopKPrecision:F2}");
            var methods = new[] { TransferStudy.Scratch, TransferStudy.FineTune, TransferStudy.Pooled };
            var table = new Table { Title = new TableTitle("Kendall τ on the new family's held-out pairs (mean ± std over subsets; top-10% precision)") }
                .AddColumn("new pairs").AddColumn(TransferStudy.ZeroShot);
            foreach (var m in methods) table.AddColumn(m);
            foreach (var row in result.Rows)
                table.AddRow([$"{row.NewPairs}", $"{result.ZeroShot.KendallTau:F3}",
                    .. methods.Select(m => $"{row.KendallTau[m]:F3} ± {row.KendallTauStd[m]:F3} ({row.TopKPrecision[m]:F2})")]);
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
