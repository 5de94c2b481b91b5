using System.Diagnostics;
using static TorchSharp.torch;

namespace NasPrune.Cli.Commands;

/// <summary>Timing primitive shared by the benchmarks.</summary>
public static class Bench
{
    /// <summary>Runs once to warm up, then repeats for about <paramref name="budget"/> seconds; returns the fastest run.</summary>
    public static double BestSeconds(Func<Tensor?> work, Device device, double budget)
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
}
