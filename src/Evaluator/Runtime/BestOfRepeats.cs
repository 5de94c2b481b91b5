using System.Diagnostics;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Runtime;

/// <summary>
/// The timing primitives of every benchmark and of final verification's latency column: warm up once, then repeat
/// and keep the fastest run (the least disturbed by the machine's other work).
/// </summary>
public static class BestOfRepeats
{
    /// <summary>Runs once to warm up, then repeats for about <paramref name="budget"/> seconds (at least 3 times); returns the fastest run.</summary>
    public static double Seconds(Func<Tensor?> work, Device device, double budget)
    {
        work()?.Dispose();
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        int runs = 0;
        while (runs < 3 || total.Elapsed.TotalSeconds < budget)
        {
            var watch = Stopwatch.StartNew();
            using (var r = work()) { if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(); }
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
            runs++;
        }
        return best;
    }

    /// <summary>Seconds of one evaluation forward (NLL at every position) of a <paramref name="batch"/> × <paramref name="seq"/> batch of random ids.</summary>
    public static double ForwardSeconds(LlamaForCausalLM model, int batch, int seq, Device device, double budget)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var generator = new Generator(1);
        var ids = randint(0, model.Config.VocabSize, [batch, seq], generator: generator).to(device);
        return Seconds(() => tensor(model.NextTokenNll(ids).Nll), device, budget);
    }
}
