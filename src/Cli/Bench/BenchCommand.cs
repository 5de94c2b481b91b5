using System.CommandLine;
using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Runtime;
using Spectre.Console;
using static TorchSharp.torch;

namespace NasPrune.Cli.Bench;

/// <summary>
/// <c>nasprune bench</c>: fp32 matmul GFLOP/s measured on this machine and, in the same run, the forward-pass
/// throughput of a model at evaluation batch sizes, so the ratio of the two is visible.
/// </summary>
public static class BenchCommand
{
    public sealed record MatmulFigure(int Size, double Gflops);
    public sealed record ForwardFigure(int Batch, int SeqLen, double TokensPerSecond, double Gflops, double ShareOfMatmul);
    public sealed record BenchResult(string Device, int Threads, string ModelHash, long Params, double FlopsPerToken,
        IReadOnlyList<MatmulFigure> Matmul, IReadOnlyList<ForwardFigure> Forward, PruningBench.PruningFigures Pruning,
        SearchBench.SearchBenchResult Search);

    public static Command Create()
    {
        var model = CliOptions.Model();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var batches = new Option<int[]>("--batch-sizes")
        {
            Description = "forward batch sizes (windows of the context length)",
            DefaultValueFactory = _ => [1, 8, 16],
            AllowMultipleArgumentsPerToken = true,
        };
        var seconds = new Option<double>("--seconds") { Description = "measuring time per figure", DefaultValueFactory = _ => 3.0 };
        var command = new Command("bench", "Measure fp32 matmul GFLOP/s and the model's forward throughput on this machine")
        {
            model, device, batches, seconds, json, data,
        };
        command.Subcommands.Add(GenerationBench.Create());
        command.SetAction(parse =>
        {
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            string dir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            double budget = parse.GetValue(seconds);
            using var lm = HfCheckpoint.LoadModel(dir, dev);
            var config = lm.Config;
            int seq = config.MaxPositionEmbeddings;

            var matmul = new[] { 1024, 2048 }.Select(n => new MatmulFigure(n, MatmulGflops(n, dev, budget))).ToList();
            double peak = matmul.Max(m => m.Gflops);
            double flopsPerToken = config.ForwardFlopsPerToken(seq);
            var forward = new List<ForwardFigure>();
            foreach (int b in parse.GetValue(batches)!)
            {
                if (b <= 0) throw new UserError($"--batch-sizes: {b} is not a positive batch size");
                double tokensPerSecond = ForwardTokensPerSecond(lm, b, seq, dev, budget);
                double gflops = tokensPerSecond * flopsPerToken / 1e9;
                forward.Add(new ForwardFigure(b, seq, tokensPerSecond, gflops, gflops / peak));
            }
            string hash = HfCheckpoint.ModelHash(dir);
            var pruning = PruningBench.Measure(lm, [1, 8], dev, budget, hash);
            // The evolutionary search's own cost (a cheap synthetic fitness stands in for the predictor, whose speed
            // `nasprune predictor bench` measures): 50,000 candidates at the 20 %-removed band.
            var search = SearchBench.Run(new PruningSpace(config, hash));
            var result = new BenchResult(dev.ToString(), get_num_threads(), hash, config.TotalParams,
                flopsPerToken, matmul, forward, pruning, search);
            if (parse.GetValue(json)) { Output.WriteJson(result); return 0; }
            Console.WriteLine($"device {result.Device}, {result.Threads} threads; model {dir} ({config.TotalParams:N0} params, {flopsPerToken / 1e6:F1} MFLOP/token at {seq} tokens)");
            var mm = new Table().AddColumns("fp32 matmul n x n", "GFLOP/s");
            foreach (var m in matmul) mm.AddRow($"{m.Size}", $"{m.Gflops:F1}");
            AnsiConsole.Write(mm);
            var fw = new Table().AddColumns("forward batch", "seq", "tokens/s", "GFLOP/s", "share of matmul peak");
            foreach (var f in forward) fw.AddRow($"{f.Batch}", $"{f.SeqLen}", $"{f.TokensPerSecond:F0}", $"{f.Gflops:F1}", $"{f.ShareOfMatmul:P0}");
            AnsiConsole.Write(fw);
            Console.WriteLine($"applying a candidate: {pruning.Apply.ApplyMs * 1e6:F0} ns; evaluating it on {pruning.Apply.EvaluateWindows} windows: " +
                              $"{pruning.Apply.EvaluateMs:F0} ms; ratio {pruning.Apply.Ratio:E2}");
            var sp = new Table().AddColumns("candidate", "mode", "batch", "full ms", "pruned ms", "speedup", "FLOP ratio", "speedup / FLOP ratio");
            foreach (var f in pruning.Speed)
                sp.AddRow(f.Candidate, f.Mode, $"{f.Batch}", $"{f.FullMs:F1}", $"{f.PrunedMs:F1}", $"{f.Speedup:F2}", $"{f.FlopRatio:F2}", $"{f.SpeedupOverFlopRatio:F2}");
            AnsiConsole.Write(sp);
            Console.WriteLine($"evolutionary search: {result.Search.Candidates:N0} candidates ({result.Search.Population} × {result.Search.Generations} generations) " +
                              $"in {result.Search.SearchSeconds:F2} s outside the fitness ({result.Search.CandidatesPerSecond:N0}/s); space shrinking " +
                              $"{result.Search.ShrinkSeconds:F2} s for {result.Search.ShrinkSampled:N0} samples");
            return 0;
        });
        return command;
    }

    /// <summary>Best-of-repeats n×n×n fp32 matmul rate (2n³ FLOPs each).</summary>
    public static double MatmulGflops(int n, Device device, double seconds)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n, device: device);
        var b = randn(n, n, device: device);
        return 2.0 * n * n * n / BestOfRepeats.Seconds(() => a.matmul(b), device, seconds) / 1e9;
    }

    public static double ForwardTokensPerSecond(Evaluator.Model.LlamaForCausalLM model, int batch, int seq, Device device, double seconds)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var ids = randint(0, model.Config.VocabSize, [batch, seq], generator: new Generator(1)).to(device);
        // The evaluation path itself: forward pass, output projection and loss (as `eval` and the pair evaluator run it).
        return batch * seq / BestOfRepeats.Seconds(() => tensor(model.NextTokenNll(ids).Nll), device, seconds);
    }
}
