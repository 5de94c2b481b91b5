using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Runtime;
using static TorchSharp.torch;

namespace NasPrune.Cli.Bench;

/// <summary>
/// The pruning-space figures of `nasprune bench`: how cheap applying a candidate is next to evaluating it, and how
/// much of the FLOP reduction a pruned forward turns into speed, in place (prefix views) and exported (smaller
/// tensors). Timings are best-of-repeats, like the rest of the benchmark.
/// </summary>
public static class PruningBench
{
    public sealed record ApplyFigure(double ApplyMs, double EvaluateMs, int EvaluateWindows, double Ratio);
    public sealed record SpeedFigure(string Candidate, string Mode, int Batch, double FullMs, double PrunedMs, double Speedup,
        double FlopRatio, double SpeedupOverFlopRatio);
    public sealed record PruningFigures(ApplyFigure Apply, IReadOnlyList<SpeedFigure> Speed);

    public static PruningFigures Measure(LlamaForCausalLM model, int[] batches, Device device, double budget, string baseHash)
    {
        var config = model.Config;
        int seq = config.MaxPositionEmbeddings;
        var space = new PruningSpace(config, baseHash);
        var halfFfn = new Architecture(baseHash, config.Layers.Select(l => new LayerKeep(l.Keep, l.Heads, l.Ffn / 2)).ToArray());
        var uniformHalf = space.Uniform(0.5);

        // Applying a candidate is setting each layer's active counts; evaluating it is a forward over the
        // validation windows a pair evaluation uses (32 windows by default).
        const int evalWindows = 32;
        var shapes = uniformHalf.ToShapes(config);
        // Applying is far below a timer tick, so time many applications (and restorations) together.
        const int applications = 100_000;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < applications; i++) { model.SetActiveShapes(shapes); model.ResetActiveShapes(); }
        double applyMs = watch.Elapsed.TotalMilliseconds / (2.0 * applications);
        model.SetActiveShapes(shapes);
        double evaluateMs = BestOfRepeats.ForwardSeconds(model, evalWindows, seq, device, budget / 4) * 1000;
        model.ResetActiveShapes();

        var speed = new List<SpeedFigure>();
        double fullFlops = config.ForwardFlopsPerToken(seq);
        foreach (int b in batches)
        {
            double fullMs = BestOfRepeats.ForwardSeconds(model, b, seq, device, budget / 4) * 1000;
            foreach (var (name, arch) in new[] { ("50% FFN", halfFfn), ("uniform 50% params", uniformHalf) })
            {
                double flopRatio = fullFlops / arch.ForwardFlopsPerToken(config, seq);
                model.SetActiveShapes(arch.ToShapes(config));
                double inPlaceMs = BestOfRepeats.ForwardSeconds(model, b, seq, device, budget / 4) * 1000;
                model.ResetActiveShapes();
                speed.Add(Figure(name, "in place", b, fullMs, inPlaceMs, flopRatio));
                using var exported = PhysicalPruning.Extract(model, arch);
                double exportedMs = BestOfRepeats.ForwardSeconds(exported, b, seq, device, budget / 4) * 1000;
                speed.Add(Figure(name, "exported", b, fullMs, exportedMs, flopRatio));
            }
        }
        return new PruningFigures(new ApplyFigure(applyMs, evaluateMs, evalWindows, applyMs / evaluateMs), speed);
    }

    static SpeedFigure Figure(string name, string mode, int batch, double fullMs, double prunedMs, double flopRatio) =>
        new(name, mode, batch, fullMs, prunedMs, fullMs / prunedMs, flopRatio, fullMs / prunedMs / flopRatio);
}
