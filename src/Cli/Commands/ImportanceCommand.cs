using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Tokenization;
using Spectre.Console;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune importance</c>: scores every head, FFN channel and layer of a model with one criterion on validation
/// calibration windows, caches the scores next to the model, and prints a per-layer summary (or writes --out).
/// </summary>
public static class ImportanceCommand
{
    public sealed record LayerSummary(int Layer, double LayerScore, int Heads, double HeadMin, double HeadMax, int Channels, double ChannelMin, double ChannelMax);
    public sealed record ImportanceResult(string Model, string ModelHash, string Criterion, CalibrationSettings Calibration, string? Out,
        IReadOnlyList<LayerSummary> Layers);

    public static Command Create()
    {
        var model = CliOptions.Model();
        var criterion = CliOptions.Criterion();
        var sequences = new Option<int>("--calibration-sequences") { Description = "calibration windows (validation split)", DefaultValueFactory = _ => 32 };
        var task = new Option<string>("--calibration-task") { Description = "wikitext2 or ptb (validation split)", DefaultValueFactory = _ => "wikitext2" };
        var seqLen = CliOptions.SeqLen();
        var output = new Option<string?>("--out") { Description = "also write the scores to this JSON file (never replaced without --force)" };
        var force = new Option<bool>("--force") { Description = "replace an existing --out file" };
        var seed = CliOptions.Seed();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("importance", "Score heads, FFN channels and layers with an importance criterion (cached next to the model)")
        {
            model, criterion, sequences, task, seqLen, output, force, seed, device, json, data,
        };
        command.SetAction(parse =>
        {
            // Refuse before minutes of scoring: the rule every command follows (an existing file is replaced only on request).
            string? outPath = parse.GetValue(output) is { } o ? OutputFile.Check(o, parse.GetValue(force)) : null;
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            var c = ImportanceCriteria.Get(parse.GetValue(criterion)!);
            int n = parse.GetValue(sequences);
            if (n <= 0) throw new UserError($"--calibration-sequences {n}: must be positive");
            var settings = new CalibrationSettings(PerplexityTask.Get(parse.GetValue(task)!).Name, n, CheckSeqLen(parse.GetValue(seqLen)), parse.GetValue(seed));
            string hash = HfCheckpoint.ModelHash(modelDir);
            var tokenizer = TokenizerLoader.Load(modelDir);
            using var lm = HfCheckpoint.LoadModel(modelDir, DeviceChoice.Resolve(parse.GetValue(device)));
            var scores = ImportanceCache.GetOrCompute(modelDir, hash, c, settings, () =>
            {
                Output.Log($"computing {c.Name} importance on {n} {settings.Task} validation windows");
                var calibration = CalibrationData.Load(settings, dataDir, tokenizer, lm.Config.MaxPositionEmbeddings);
                return c.Score(lm, calibration, hash);
            });
            if (outPath is not null) scores.Save(outPath);
            var layers = scores.Layers.Select((score, i) => new LayerSummary(i, score,
                scores.Heads[i].Length, scores.Heads[i].DefaultIfEmpty().Min(), scores.Heads[i].DefaultIfEmpty().Max(),
                scores.Channels[i].Length, scores.Channels[i].DefaultIfEmpty().Min(), scores.Channels[i].DefaultIfEmpty().Max())).ToList();
            var result = new ImportanceResult(Path.GetFullPath(modelDir), hash, c.Name, settings, outPath, layers);
            if (parse.GetValue(json)) { Output.WriteJson(result); return 0; }
            Console.WriteLine($"{c.Name} importance of {result.Model} (model {hash}), {n} {settings.Task} validation windows, seed {settings.Seed}");
            var table = new Table().AddColumns("layer", "layer score", "heads", "head min", "head max", "channels", "channel min", "channel max");
            foreach (var l in layers)
                table.AddRow($"{l.Layer}", $"{l.LayerScore:G4}", $"{l.Heads}", $"{l.HeadMin:G3}", $"{l.HeadMax:G3}", $"{l.Channels}", $"{l.ChannelMin:G3}", $"{l.ChannelMax:G3}");
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    internal static int CheckSeqLen(int seqLen) => seqLen >= 0 ? seqLen : throw new UserError($"--seq-len {seqLen}: must be positive (or 0 for the model's context length)");
}
