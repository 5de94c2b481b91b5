using System.CommandLine;
using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Predictor;
using Spectre.Console;
using NasPrune.Search;

namespace NasPrune.Cli.Bench;

/// <summary>
/// <c>nasprune predictor bench</c>: predictions per second for a batch of candidates (the search's workload) via the
/// batch transform and via one PredictionEngine call per row, featurization timed on its own.
/// </summary>
public static class PredictorBench
{
    /// <summary>Wall time, and the process's CPU time over the same span (steadier on a shared machine).</summary>
    public sealed record BenchFigure(string Path, int Candidates, double Seconds, double PerSecond, double CpuSeconds, double PerCpuSecond);
    public sealed record BenchResult(string Predictor, int Features, int Candidates, IReadOnlyList<BenchFigure> Figures, double MaxDifference);

    public static Command Create()
    {
        var predictorPath = new Option<string?>("--predictor") { Description = "predictor model zip (default: one trained here on 400 synthetic pairs of --model)" };
        var count = new Option<int>("--count") { Description = "candidates in the batch", DefaultValueFactory = _ => 50_000 };
        var model = CliOptions.Model();
        var data = CliOptions.Data();
        var seed = CliOptions.Seed();
        var json = CliOptions.Json();
        var command = new Command("bench", "Predictions per second for a batch of candidates: compiled trees vs ML.NET batch transform vs PredictionEngine per row")
        {
            predictorPath, count, model, data, seed, json,
        };
        command.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n < 1) throw new UserError($"--count {n}: must be positive");
            AccuracyPredictor predictor;
            string name;
            if (parse.GetValue(predictorPath) is { } path) { predictor = AccuracyPredictor.Load(path); name = Path.GetFullPath(path); }
            else
            {
                string dir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
                var config = HfCheckpoint.LoadConfig(dir);
                var pairs = SyntheticPairs.Generate(config, 400, seed: 1, baseHash: SyntheticPairs.FakeHash);
                predictor = AccuracyPredictor.Train(pairs, config, SyntheticPairs.Profile(config), new PredictorOptions());
                name = $"synthetic (400 pairs, {dir})";
            }
            var candidates = RandomCandidates(predictor.BaseConfig, predictor.Card.BaseModel, n, unchecked((int)parse.GetValue(seed)));
            var warmUp = candidates.Take(Math.Min(n, 5000)).ToList(); // JIT tiers and ML.NET pipeline compilation
            for (int r = 0; r < 3; r++) { predictor.PredictTarget(warmUp); predictor.PredictTransform(warmUp); predictor.PredictRowByRow(warmUp); }

            var figures = new List<BenchFigure>();
            var features = Time("featurize only", n, figures, () => predictor.Featurizer.FeaturizeAll(candidates));
            var fast = Time("Predict: compiled trees (features + model)", n, figures, () => predictor.PredictTarget(candidates));
            var batch = Time("ML.NET batch transform (features + model)", n, figures, () => predictor.PredictTransform(candidates));
            var rows = Time("PredictionEngine per row (features + model)", n, figures, () => predictor.PredictRowByRow(candidates));
            double maxDiff = Enumerable.Range(0, n).Max(i => Math.Max(Math.Abs(fast[i] - batch[i]), Math.Abs(rows[i] - batch[i])));

            var record = new BenchResult(name, features.Length / n, n, figures, maxDiff);
            if (parse.GetValue(json)) { Output.WriteJson(record); return 0; }
            string trees = predictor.Trees is { } t ? $"{t.TreeCount} trees of mean depth {t.MeanDepth:F1}" : "no trees";
            Console.WriteLine($"predictor {name}: {record.Features} features, {trees}, {n:N0} candidates, {Environment.ProcessorCount} cores");
            var table = new Table().AddColumns("path", "wall s", "predictions/s", "CPU s", "predictions per CPU-s");
            foreach (var f in figures) table.AddRow(Markup.Escape(f.Path), $"{f.Seconds:F3}", $"{f.PerSecond:N0}", $"{f.CpuSeconds:F3}", $"{f.PerCpuSecond:N0}");
            AnsiConsole.Write(table);
            Console.WriteLine($"largest difference between the paths: {maxDiff:G3}");
            return 0;
        });
        return command;
    }

    static T Time<T>(string path, int n, List<BenchFigure> figures, Func<T> work)
    {
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var result = work();
        double wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpu).TotalSeconds;
        figures.Add(new BenchFigure(path, n, wall, n / wall, cpuSeconds, n / Math.Max(cpuSeconds, 1e-9)));
        return result;
    }

    /// <summary>Random on-grid candidates (per-layer ratios uniform in [0.3, 1], snapped; no budget projection, which would dominate the time).</summary>
    public static IReadOnlyList<Architecture> RandomCandidates(ModelConfig config, string baseHash, int count, int seed)
    {
        var space = new PruningSpace(config, baseHash);
        var rng = new Random(seed);
        var result = new Architecture[count];
        var heads = new double[space.LayerCount];
        var ffn = new double[space.LayerCount];
        for (int i = 0; i < count; i++)
        {
            for (int l = 0; l < heads.Length; l++) { heads[l] = 0.3 + 0.7 * rng.NextDouble(); ffn[l] = 0.3 + 0.7 * rng.NextDouble(); }
            result[i] = space.Snap(heads, ffn);
        }
        return result;
    }
}
