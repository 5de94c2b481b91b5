using System.CommandLine;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Pairs;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Runtime;
using NasPrune.Search;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune sample</c>: the pairs stage. Draws a seeded stream of candidates in a budget band (optionally inside
/// shrunken bounds), evaluates this worker's share of it on validation windows and appends one Parquet row per
/// candidate to <c>&lt;out&gt;/shard-i-of-N/</c>. Crash-safe and resumable; N workers with the same seed produce the
/// pairs one worker would.
/// </summary>
public static class SampleCommand
{
    public sealed record SampleResult(string Out, string ModelHash, int Count, PairRunSummary Run, double PairsPerHour,
        double OutsideForwardShare, double SetupSeconds, int RowsInDirectory);

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "pairs directory (rows go to <out>/shard-<i>-of-<N>/part-<k>.parquet)", Required = true };
        var model = CliOptions.Model();
        var criterion = CliOptions.Criterion("importance criterion that orders heads and channels");
        var count = new Option<int>("--count") { Description = "candidates in the seeded stream (all workers together)", DefaultValueFactory = _ => 400 };
        var minKept = new Option<double>("--min-kept") { Description = "lower edge of the budget band (kept share)", DefaultValueFactory = _ => 0.75 };
        var maxKept = new Option<double>("--max-kept") { Description = "upper edge of the budget band (kept share)", DefaultValueFactory = _ => 0.85 };
        var metric = new Option<string>("--budget-metric") { Description = "what the band measures: params or flops", DefaultValueFactory = _ => "params" };
        var bounds = new Option<string?>("--bounds") { Description = "per-layer keep-ratio bounds (JSON as the search writes: {\"layers\": [{\"head_min\", ...}]}), e.g. a shrunken space" };
        var windows = new Option<int>("--windows") { Description = "validation windows per task (a fixed seeded subset)", DefaultValueFactory = _ => 32 };
        var seqLen = CliOptions.SeqLen();
        var windowSeed = new Option<long>("--window-seed") { Description = "seed of the window subset", DefaultValueFactory = _ => 1234 };
        var tasks = new Option<string[]>("--tasks")
        {
            Description = "perplexity tasks on their validation splits (wikitext2 first)", DefaultValueFactory = _ => ["wikitext2"], AllowMultipleArgumentsPerToken = true,
        };
        var zeroShot = new Option<string?>("--zeroshot") { Description = "also score one zero-shot task (its last --zeroshot-items items)" };
        var zeroShotItems = new Option<int>("--zeroshot-items") { Description = "items of the zero-shot task used for pairs", DefaultValueFactory = _ => 200 };
        var calibrationSequences = new Option<int>("--calibration-sequences") { Description = "importance calibration windows (validation split)", DefaultValueFactory = _ => new CalibrationSettings().Sequences };
        var calibrationSeed = new Option<long>("--calibration-seed") { Description = "seed of the importance calibration windows", DefaultValueFactory = _ => 1234 };
        var shard = new Option<string>("--shard") { Description = "this worker's share i/N of the stream (e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)", DefaultValueFactory = _ => "0/1" };
        var resume = new Option<bool>("--resume") { Description = "continue a pairs directory: skip architectures already evaluated" };
        var rowsPerPart = new Option<int>("--rows-per-part") { Description = "rows per Parquet part file", DefaultValueFactory = _ => 64 };
        var batchSize = new Option<int>("--batch-size") { Description = "windows per forward", DefaultValueFactory = _ => 8 };
        var measure = new Option<string>("--measure")
        {
            Description = "nll (WikiText-2 NLL), kl (KL(dense ‖ candidate) on the same windows) or both", DefaultValueFactory = _ => PairMeasure.Nll,
        };
        var klTopK = new Option<int>("--kl-topk")
        {
            Description = "dense ids kept per position for KL (plus a tail bucket: a lower bound on KL); 0 = exact KL", DefaultValueFactory = _ => PairMeasure.DefaultKlTopK,
        };
        var seed = CliOptions.Seed();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("sample", "Sample architectures in a budget band and write architecture–accuracy pairs (Parquet; resumable, shardable)")
        {
            output, model, criterion, count, minKept, maxKept, metric, bounds, windows, seqLen, windowSeed, tasks, zeroShot, zeroShotItems,
            calibrationSequences, calibrationSeed, shard, resume, rowsPerPart, batchSize, measure, klTopK, seed, device, json, data,
        };
        command.SetAction(parse =>
        {
            var setup = System.Diagnostics.Stopwatch.StartNew();
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            string outDir = OutputFile.CheckFolder(parse.GetValue(output)!);
            var worker = ShardSpec.Parse(parse.GetValue(shard)!);
            var band = new BudgetBand(parse.GetValue(minKept), parse.GetValue(maxKept));
            band.Validate();
            var budgetMetric = parse.GetValue(metric) switch
            {
                "params" => BudgetMetric.Params,
                "flops" => BudgetMetric.Flops,
                var m => throw new UserError($"--budget-metric '{m}': expected params or flops"),
            };
            int n = parse.GetValue(count), parts = parse.GetValue(rowsPerPart), batch = parse.GetValue(batchSize);
            if (n <= 0) throw new UserError($"--count {n}: must be positive");
            if (parts <= 0) throw new UserError($"--rows-per-part {parts}: must be positive");
            if (batch <= 0) throw new UserError($"--batch-size {batch}: must be positive");
            var taskNames = parse.GetValue(tasks)!.Select(t => t.ToLowerInvariant()).ToList();
            string measureName = PairMeasure.Check(parse.GetValue(measure)!, "--measure");
            bool isResume = parse.GetValue(resume);
            // Refuse before any work: an existing pairs directory is continued only on request, never overwritten.
            if (!isResume && Directory.Exists(outDir) && PairStore.Files(outDir).Count > 0)
                throw new UserError($"{outDir}: already holds pairs; pass --resume to continue it, or choose another --out");
            // One writer per shard: a second process resuming the same shard would evaluate and append the same rows.
            using var shardLock = DirectoryLock.Acquire(Path.Combine(outDir, worker.DirectoryName), $"pairs shard {worker}");

            var calibration = new CalibrationSettings(Sequences: parse.GetValue(calibrationSequences), SeqLen: ImportanceCommand.CheckSeqLen(parse.GetValue(seqLen)), Seed: parse.GetValue(calibrationSeed));
            if (calibration.Sequences <= 0) throw new UserError($"--calibration-sequences {calibration.Sequences}: must be positive");
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            using var prepared = PreparedModel.Prepare(modelDir, dataDir, parse.GetValue(criterion)!, calibration, dev, log: Output.Log);
            string? boundsPath = parse.GetValue(bounds);
            var layerBounds = boundsPath is null ? null : LayerBoundsJson.Load(boundsPath, prepared.Space.LayerCount);
            var evaluation = new PairEvaluationSettings(taskNames, parse.GetValue(windows), parse.GetValue(windowSeed), batch,
                parse.GetValue(zeroShot), parse.GetValue(zeroShotItems), measureName, parse.GetValue(klTopK));
            using var evaluator = new PairEvaluator(prepared, evaluation);
            var protocol = PairProtocols.Describe(evaluator, calibration, band.MinKept, band.MaxKept, budgetMetric.ToString().ToLowerInvariant(),
                boundsPath is null ? null : File.ReadAllText(boundsPath).Trim(), parse.GetValue(seed));
            var runner = new PairRunner(evaluator, outDir, protocol, worker, parts); // checks (or writes) the directory's protocol first
            prepared.Scores.ToProfile(prepared.Model.Config.GroupSize).Save(Path.Combine(outDir, ImportanceProfile.FileName));

            var stream = new ArchitectureSampler(prepared.Space).Sample(new SamplerOptions(band, n, protocol.Seed, layerBounds, Metric: budgetMetric));
            if (stream.Count < n)
                Output.Log($"the band and bounds hold only {stream.Count} distinct architectures found in {n * 50} draws; sampling those");
            int owned = Enumerable.Range(0, stream.Count).Count(worker.Owns);
            setup.Stop();
            var summary = Output.WithProgress($"pairs {worker}", owned, progress => runner.Run(stream, protocol.Seed, progress: progress));
            int rows = PairStore.ReadDirectory(outDir).Sum(f => f.Rows.Count);
            var result = new SampleResult(outDir, prepared.ModelHash, stream.Count, summary, summary.PairsPerHour, summary.OutsideForwardShare,
                setup.Elapsed.TotalSeconds, rows);
            if (parse.GetValue(json)) { Output.WriteJson(result); return 0; }
            Console.WriteLine($"shard {worker}: {summary.Evaluated} evaluated, {summary.AlreadyPresent} already present, of {summary.Owned} owned " +
                              $"({stream.Count} in the stream); {rows} rows in {outDir}");
            if (summary.Evaluated == 0) Console.WriteLine("nothing left to evaluate");
            else Console.WriteLine($"{summary.PairsPerHour:F0} pairs/hour; {summary.OutsideForwardShare:P1} of the loop's wall time outside the forward pass; " +
                              $"setup (load, importance, tokenize, sample) {setup.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return command;
    }
}
