using System.CommandLine;
using System.Diagnostics;
using NasPrune.Cli.Bench;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Predictor;
using Spectre.Console;
using NasPrune.Search;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune predictor train|eval|predict|bench|features</c>: the accuracy predictor (issue 6). Train prints the
/// cross-validation and held-out tables against the baselines and the learning curve, and writes the model zip,
/// its card and two PNGs.
/// </summary>
public static class PredictorCommand
{
    public sealed record TrainResult(string Predictor, string Card, string BaseModel, int TrainingPairs, int? HeldOutPairs, string Target,
        IReadOnlyList<ModelScore> CrossValidation, IReadOnlyList<ModelScore>? HeldOut, IReadOnlyList<LearningPoint> LearningCurve,
        string CurveEvaluatedOn, double TrainSeconds, string[] Plots);

    public sealed record EvalResult(string Predictor, string Pairs, string Target, IReadOnlyList<ModelScore> Scores);

    public sealed record PredictResult(string ArchId, string Target, double Prediction, double? PredictedNll, double ParamRatio);

    public static Command Create()
    {
        var command = new Command("predictor", "Accuracy predictor: train on pairs, evaluate, predict, benchmark");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(PredictOne());
        command.Subcommands.Add(PredictorBench.Create());
        command.Subcommands.Add(Features());
        command.Subcommands.Add(PredictorTransferCommand.Create());
        command.Subcommands.Add(SyntheticPairsCommand());
        return command;
    }

    static Option<string> Required(string name, string description) => new(name) { Description = description, Required = true };

    /// <summary>Options that set <see cref="PredictorOptions"/> (defaults from the record).</summary>
    internal sealed class OptionSet
    {
        readonly PredictorOptions d = new();
        public readonly Option<string> Target = new("--target") { Description = "nll (WikiText-2 validation NLL), delta-uniform (NLL minus the uniform cut's at the same budget) or kl (KL(dense ‖ candidate) on the same windows)", DefaultValueFactory = _ => PredictorTarget.Nll.Name() };
        public readonly Option<int> Trees = new("--trees") { Description = "boosted trees", DefaultValueFactory = _ => new PredictorOptions().NumberOfTrees };
        public readonly Option<int> Leaves = new("--leaves") { Description = "leaves per tree", DefaultValueFactory = _ => new PredictorOptions().NumberOfLeaves };
        public readonly Option<int> MinLeaf = new("--min-leaf") { Description = "minimum pairs per leaf", DefaultValueFactory = _ => new PredictorOptions().MinimumExampleCountPerLeaf };
        public readonly Option<double> LearningRate = new("--learning-rate") { Description = "boosting learning rate", DefaultValueFactory = _ => new PredictorOptions().LearningRate };
        public readonly Option<double> FeatureFraction = new("--feature-fraction") { Description = "share of features per tree", DefaultValueFactory = _ => new PredictorOptions().FeatureFraction };
        public readonly Option<int> DepthGrid = new("--depth-grid") { Description = "relative-depth cells the per-layer profiles are resampled onto", DefaultValueFactory = _ => new PredictorOptions().DepthGrid };
        public readonly Option<bool> DepthInvariant = new("--depth-invariant") { Description = "no per-layer features (the predictor then applies to other layer counts)" };
        public readonly Option<double> Ridge = new("--ridge") { Description = "ridge penalty of the linear trend under the trees (0 = trees alone)", DefaultValueFactory = _ => new PredictorOptions().RidgeLambda };
        public readonly Option<long> Seed = CliOptions.Seed();

        public IEnumerable<Option> All => [Target, Trees, Leaves, MinLeaf, LearningRate, FeatureFraction, DepthGrid, DepthInvariant, Ridge, Seed];

        public PredictorOptions Read(ParseResult p)
        {
            var o = d with
            {
                Target = PredictorTargets.Parse(p.GetValue(Target)!, "--target"), NumberOfTrees = p.GetValue(Trees), NumberOfLeaves = p.GetValue(Leaves),
                MinimumExampleCountPerLeaf = p.GetValue(MinLeaf), LearningRate = p.GetValue(LearningRate),
                FeatureFraction = p.GetValue(FeatureFraction), DepthGrid = p.GetValue(DepthGrid),
                PerLayerFeatures = !p.GetValue(DepthInvariant), RidgeLambda = p.GetValue(Ridge), Seed = unchecked((int)p.GetValue(Seed)),
            };
            o.Validate();
            return o;
        }
    }

    static Command Train()
    {
        var pairs = Required("--pairs", "pairs directory (Parquet shards + importance-profile.json)");
        var output = Required("--out", "model zip to write (the card goes beside it as <name>.card.json, plots as <name>.*.png)");
        var heldOut = new Option<string?>("--heldout") { Description = "pairs the predictor never sees, for the held-out table and the learning curve" };
        var folds = new Option<int>("--folds") { Description = "cross-validation folds", DefaultValueFactory = _ => 5 };
        var sizes = new Option<int[]>("--curve-sizes") { Description = "learning-curve training set sizes", DefaultValueFactory = _ => [50, 100, 200, 400, 800, 1600], AllowMultipleArgumentsPerToken = true };
        var repeats = new Option<int>("--curve-repeats") { Description = "random subsets per learning-curve size", DefaultValueFactory = _ => 3 };
        var model = CliOptions.Model();
        var data = CliOptions.Data();
        var json = CliOptions.Json();
        var set = new OptionSet();
        var command = new Command("train", "Train the predictor; print cross-validation and held-out tables vs baselines and the learning curve")
        {
            pairs, output, heldOut, folds, sizes, repeats, model, data, json,
        };
        foreach (var o in set.All) command.Options.Add(o);
        command.SetAction(parse =>
        {
            string outPath = parse.GetValue(output)!;
            if (File.Exists(outPath) || File.Exists(PredictorCard.PathFor(outPath)))
                throw new UserError($"{outPath}: already exists; choose another --out (predictors are never overwritten)");
            OutputFile.Check(outPath, force: null);
            var options = set.Read(parse);
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            var config = HfCheckpoint.LoadConfig(modelDir);
            string hash = HfCheckpoint.ModelHash(modelDir);
            string pairsDir = parse.GetValue(pairs)!;
            var (train, profile) = PairDirectoryReader.ReadPairs(pairsDir, config, hash, modelDir);
            PairSet? held = null;
            if (parse.GetValue(heldOut) is { } heldDir) held = PairDirectoryReader.ReadPairs(heldDir, config, hash, modelDir).Pairs;
            var study = new StudyOptions(parse.GetValue(folds), parse.GetValue(sizes), parse.GetValue(repeats), options.Seed);
            Output.Log($"predictor: {train.Count} training pairs{(held is null ? "" : $", {held.Count} held-out")}, target {options.Target.Name()}, " +
                       $"{(profile is null ? "no importance profile" : $"importance profile '{profile.Criterion}'")}");

            var result = Output.WithStatus("cross-validation, held-out, learning curve", () => PredictorStudy.Run(train, held, profile, options, study));
            var clock = Stopwatch.StartNew();
            var predictor = AccuracyPredictor.Train(train, profile, options);
            double trainSeconds = clock.Elapsed.TotalSeconds;
            predictor.AttachMetrics(result.CrossValidation.ToDictionary(s => s.Model, s => s.Metrics),
                result.HeldOut?.ToDictionary(s => s.Model, s => s.Metrics), held?.Hash());
            predictor.Save(outPath);
            var predictorScore = (result.HeldOut ?? result.CrossValidation).First(s => s.Model == PredictorStudy.Name(PredictorModelKind.FastTree)).Metrics;
            string scatter = PredictorPlots.ScatterPath(outPath), curve = PredictorPlots.CurvePath(outPath);
            PredictorPlots.Scatter(scatter, result.ScatterMeasured, result.ScatterPredicted, options.Target.Name(), result.ScatterSource, predictorScore);
            PredictorPlots.LearningCurve(curve, result.LearningCurve, result.CurveEvaluatedOn);

            var record = new TrainResult(Path.GetFullPath(outPath), Path.GetFullPath(PredictorCard.PathFor(outPath)), train.BaseModel, train.Count,
                held?.Count, options.Target.Name(), result.CrossValidation, result.HeldOut, result.LearningCurve, result.CurveEvaluatedOn, trainSeconds, [scatter, curve]);
            if (parse.GetValue(json)) { Output.WriteJson(record); return 0; }
            WriteScores($"{study.Folds}-fold cross-validation on {train.Count} training pairs (target {options.Target.Name()})", result.CrossValidation);
            if (result.HeldOut is { } h) WriteScores($"held-out: {held!.Count} pairs never seen in training", h);
            WriteCurve(result.LearningCurve, result.CurveEvaluatedOn);
            Console.WriteLine($"predictor trained on {train.Count} pairs in {trainSeconds:F2} s → {outPath} (+ card, {Path.GetFileName(scatter)}, {Path.GetFileName(curve)})");
            return 0;
        });
        return command;
    }

    static Command Eval()
    {
        var predictorPath = Required("--predictor", "predictor model zip (card beside it)");
        var pairs = Required("--pairs", "pairs directory of the predictor's base model");
        var csv = new Option<string?>("--csv") { Description = "also write arch_id, param_ratio, measured and predicted target per pair to this CSV file" };
        var json = CliOptions.Json();
        var command = new Command("eval", "Score a saved predictor (and the zero-cost proxies) on pairs") { predictorPath, pairs, csv, json };
        command.SetAction(parse =>
        {
            var predictor = AccuracyPredictor.Load(parse.GetValue(predictorPath)!);
            string dir = parse.GetValue(pairs)!;
            var rows = PairStore.ReadAll(dir);
            predictor.RequireSameBase(rows, dir);
            var set = new PairSet(rows, predictor.BaseConfig, dir);
            var target = predictor.Targets(set);
            var predicted = predictor.PredictTarget(set.Architectures);
            var scores = new List<ModelScore> { new(PredictorStudy.Name(predictor.Card.Options.Model), PredictorMetrics.All(target, predicted)) };
            if (parse.GetValue(csv) is { } csvPath)
            {
                if (File.Exists(csvPath)) throw new UserError($"{csvPath}: already exists");
                AtomicFile.WriteAllText(csvPath, "arch_id,param_ratio,measured,predicted\n" + string.Concat(set.Items.Select((p, i) =>
                    FormattableString.Invariant($"{p.Row.ArchId},{p.Row.ParamRatio:R},{target[i]:R},{predicted[i]:R}\n"))));
            }
            scores.AddRange(PredictorStudy.Proxies(set, predictor.Card.Profile).Select(p => new ModelScore(p.Name, PredictorMetrics.RankOnly(target, p.Score))));
            var record = new EvalResult(Path.GetFullPath(parse.GetValue(predictorPath)!), Path.GetFullPath(dir), predictor.Card.Target.Name(), scores);
            if (parse.GetValue(json)) { Output.WriteJson(record); return 0; }
            WriteScores($"{set.Count} pairs of {dir} (target {predictor.Card.Target.Name()})", scores);
            return 0;
        });
        return command;
    }

    static Command PredictOne()
    {
        var predictorPath = Required("--predictor", "predictor model zip (card beside it)");
        var arch = Required("--arch", "architecture JSON file (or the JSON text itself)");
        var json = CliOptions.Json();
        var command = new Command("predict", "Predict the loss of one architecture") { predictorPath, arch, json };
        command.SetAction(parse =>
        {
            var predictor = AccuracyPredictor.Load(parse.GetValue(predictorPath)!);
            string text = parse.GetValue(arch)!;
            var a = text.TrimStart().StartsWith('{') ? Architecture.FromJson(text, "--arch") : Architecture.Load(text);
            a.Validate(predictor.BaseConfig, "--arch");
            double prediction = predictor.PredictTarget([a])[0];
            // A KL predictor says nothing about NLL; the others predict it (delta-uniform after adding the reference).
            double? nll = predictor.Card.Target == PredictorTarget.Kl ? null : predictor.PredictMeasure([a])[0];
            var record = new PredictResult(a.Id, predictor.Card.Target.Name(), prediction, nll, a.ParamRatio(predictor.BaseConfig));
            if (parse.GetValue(json)) { Output.WriteJson(record); return 0; }
            string nllText = nll is double v ? $" (NLL {v:F4}, perplexity {Math.Exp(v):F2})" : "";
            Console.WriteLine($"{a.Id}: predicted {record.Target} {prediction:F4}{nllText} at {record.ParamRatio:P1} of the parameters");
            return 0;
        });
        return command;
    }

    static Command Features()
    {
        var model = CliOptions.Model();
        var data = CliOptions.Data();
        var grid = new Option<int>("--depth-grid") { Description = "relative-depth cells", DefaultValueFactory = _ => new PredictorOptions().DepthGrid };
        var command = new Command("features", "List the predictor's features for a model, one line each") { model, data, grid };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            var config = HfCheckpoint.LoadConfig(dir);
            var table = new Table().AddColumns("feature", "depth-invariant", "meaning");
            foreach (var f in FeatureCatalog.Describe(config.NumHiddenLayers, parse.GetValue(grid), hasProfile: true, perLayer: true))
                table.AddRow(f.Name, f.DepthInvariant ? "yes" : "no", Markup.Escape(f.Description));
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    static Command SyntheticPairsCommand()
    {
        var output = Required("--out", "new pairs directory (refused if it exists)");
        var count = new Option<int>("--count") { Description = "pairs", DefaultValueFactory = _ => 400 };
        var model = CliOptions.Model();
        var data = CliOptions.Data();
        var seed = CliOptions.Seed();
        var command = new Command("synthetic-pairs", "Write pairs with a known made-up loss (SyntheticPairs) for a model: a sanity check of the predictor without evaluations")
        {
            output, count, model, data, seed,
        };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(output)!;
            if (Directory.Exists(dir)) throw new UserError($"{dir}: already exists; choose another --out");
            OutputFile.CheckFolder(dir);
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            var config = HfCheckpoint.LoadConfig(modelDir);
            string hash = HfCheckpoint.ModelHash(modelDir);
            var rows = SyntheticPairs.Generate(config, parse.GetValue(count), unchecked((int)parse.GetValue(seed)), baseHash: hash);
            Directory.CreateDirectory(Path.Combine(dir, "shard-0-of-1"));
            PairStore.WriteFile(Path.Combine(dir, "shard-0-of-1", "part-0.parquet"), rows.ToList());
            SyntheticPairs.Profile(config, hash).Save(Path.Combine(dir, ImportanceProfile.FileName));
            Console.WriteLine($"{rows.Count} synthetic pairs of {hash} → {dir}");
            return 0;
        });
        return command;
    }

    public static void WriteScores(string title, IReadOnlyList<ModelScore> scores)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape(title)) }.AddColumns("model", "RMSE", "R²", "Spearman ρ", "Kendall τ", "top-10% precision");
        static string F(double v) => double.IsNaN(v) ? "–" : v.ToString("F4");
        foreach (var s in scores)
            table.AddRow(Markup.Escape(s.Model), F(s.Metrics.Rmse), F(s.Metrics.R2), F(s.Metrics.Spearman), F(s.Metrics.KendallTau), F(s.Metrics.TopKPrecision));
        AnsiConsole.Write(table);
    }

    static void WriteCurve(IReadOnlyList<LearningPoint> curve, string evaluatedOn)
    {
        var sizes = curve.Where(p => p.Pairs > 0).Select(p => p.Pairs).Distinct().Order().ToArray();
        var table = new Table { Title = new TableTitle(Markup.Escape($"learning curve: Kendall τ on {evaluatedOn} (mean ± std over subsets)")) }.AddColumn("model");
        foreach (int n in sizes) table.AddColumn($"{n} pairs");
        foreach (var group in curve.Where(p => p.Pairs > 0).GroupBy(p => p.Model))
            table.AddRow([Markup.Escape(group.Key), .. sizes.Select(n => group.FirstOrDefault(p => p.Pairs == n) is { } p ? $"{p.KendallTau:F3} ± {p.KendallTauStd:F3}" : "")]);
        foreach (var proxy in curve.Where(p => p.Pairs == 0))
            table.AddRow([Markup.Escape(proxy.Model), .. sizes.Select(_ => $"{proxy.KendallTau:F3}")]);
        AnsiConsole.Write(table);
    }
}
