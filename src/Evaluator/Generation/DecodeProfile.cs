using System.Diagnostics;
using NasPrune.Evaluator.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// Where one batch-1 decode step spends its time: wall time per stage (summed over layers) and the tensors the step
/// creates (each is a TorchSharp call with a native allocation or a view), averaged over steps that each feed one token
/// after a prompt. Profiles either the evaluation forward pass module by module (what decoding used before the fused
/// path) or <see cref="FusedDecoder"/>, through the stage marks it reports.
/// </summary>
public static class DecodeProfile
{
    /// <param name="CpuMillisecondsPerStep">the calling thread's CPU time (Linux; NaN elsewhere): with one torch thread, where
    /// every op runs, it is what the stage costs whatever else the machine runs</param>
    public sealed record Stage(string Name, double MillisecondsPerStep, double CpuMillisecondsPerStep, double Share, double TensorsPerStep);
    public sealed record Result(string Path, int Steps, double MillisecondsPerStep, double CpuMillisecondsPerStep, double TensorsPerStep, IReadOnlyList<Stage> Stages);

    public static Result Run(LlamaForCausalLM model, IReadOnlyList<int> prompt, int steps, bool fused)
    {
        using var _ = inference_mode();
        using var cache = new KvCache(model, 1, prompt.Count + steps);
        using var decoder = fused ? new FusedDecoder(model) : null;
        using (var prefill = NewDisposeScope())
            model.NextTokenLogits(tensor(prompt.Select(t => (long)t).ToArray(), [1, prompt.Count]), cache);
        var time = new Dictionary<string, double>();
        var cpu = new Dictionary<string, double>();
        double cpuMark = 0;
        var count = new Dictionary<string, long>();
        var order = new List<string>();
        var clock = new Stopwatch();
        long tensors = 0;
        void Mark(string stage)
        {
            long now = Created();
            double cpuNow = ThreadCpuMilliseconds();
            if (!time.ContainsKey(stage)) { time[stage] = 0; cpu[stage] = 0; count[stage] = 0; order.Add(stage); }
            time[stage] += clock.Elapsed.TotalMilliseconds;
            cpu[stage] += cpuNow - cpuMark;
            cpuMark = cpuNow;
            count[stage] += now - tensors;
            tensors = now;
            clock.Restart();
        }
        var cos = Rotary.Tables(model.Config, model.Config.MaxPositionEmbeddings, CPU);
        try
        {
            int token = prompt[^1];
            var total = Stopwatch.StartNew();
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                tensors = Created();
                cpuMark = ThreadCpuMilliseconds();
                clock.Restart();
                var logits = decoder is not null ? decoder.NextTokenLogits(token, cache, Mark) : StandardStep(model, token, cache, cos, Mark);
                token = TokenSampler.ArgMax(logits.data<float>().ToArray());
                Mark("argmax (C#)");
            }
            double ms = total.Elapsed.TotalMilliseconds / steps;
            double sum = time.Values.Sum();
            return new Result(fused ? "fused decoder" : "evaluation forward", steps, ms, cpu.Values.Sum() / steps, count.Values.Sum() / (double)steps,
                order.Select(s => new Stage(s, time[s] / steps, cpu[s] / steps, time[s] / sum, count[s] / (double)steps)).ToList());
        }
        finally { cos.Cos.Dispose(); cos.Sin.Dispose(); }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), in milliseconds; NaN off Linux.</summary>
    static double ThreadCpuMilliseconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        return ClockGetTime(3, out var t) == 0 ? t.Seconds * 1e3 + t.Nanoseconds / 1e6 : double.NaN;
    }

    static long Created()
    {
        var t = DisposeScopeManager.Statistics.TensorStatistics;
        return t.CreatedInScopeCount + t.CreatedOutsideScopeCount;
    }

    /// <summary>The evaluation forward pass's modules, called as LlamaModel.Forward and LlamaDecoderLayer.Forward call them, for one token.</summary>
    static Tensor StandardStep(LlamaForCausalLM model, int token, KvCache cache, (Tensor Cos, Tensor Sin) rope, Action<string> mark)
    {
        int start = cache.Length;
        var h = model.model.embed_tokens.call(tensor(new long[] { token }, [1, 1]));
        mark("embedding");
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var l = model.Layers[i];
            if (!l.Active) continue;
            if (l.self_attn is { ActiveHeads: > 0 } attention)
            {
                var normed = l.input_layernorm!.call(h);
                mark("attention: norm");
                var a = attention.Forward(normed, rope.Cos, rope.Sin, cache[i], start);
                mark("attention: module");
                h = h.Plus(a);
                mark("residual adds");
            }
            if (l.mlp is { ActiveChannels: > 0 } mlp)
            {
                var normed = l.post_attention_layernorm!.call(h);
                mark("mlp: norm");
                var m = mlp.call(normed);
                mark("mlp: module");
                h = h.Plus(m);
                mark("residual adds");
            }
        }
        cache.Length = start + 1;
        var last = model.model.norm.call(h).squeeze(1);
        var logits = F.linear(last, model.lm_head?.weight ?? model.model.embed_tokens.weight!);
        mark("final norm, lm_head");
        return logits;
    }

    public static void Print(Result r, TextWriter to)
    {
        to.WriteLine($"  {r.Path}: {r.MillisecondsPerStep:F3} ms per token ({1000 / r.MillisecondsPerStep:F0} tokens/s while profiled), " +
                     $"calling thread's CPU {r.CpuMillisecondsPerStep:F3} ms, {r.TensorsPerStep:F0} tensors created per token, mean of {r.Steps} steps");
        to.WriteLine($"    {"stage",-30} {"wall ms",8}  {"share",6}  {"CPU ms",8}  tensors");
        foreach (var s in r.Stages)
            to.WriteLine($"    {s.Name,-30} {s.MillisecondsPerStep,8:F3}  {s.Share,6:P1}  {s.CpuMillisecondsPerStep,8:F3}  {s.TensorsPerStep,6:F0}");
    }
}
