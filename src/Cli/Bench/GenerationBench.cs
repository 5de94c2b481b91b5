using System.CommandLine;
using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Generation;
using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Cli.Bench;

/// <summary>
/// <c>nasprune bench generation</c>: prefill (one prompt through the model) and batch-1 greedy decode throughput of
/// NasPrune's KV-cached decoding and of llama.cpp on the F32 GGUF export of the same weights, with the same number
/// of threads. Each figure is the best of --repeats runs after one warm-up, so a busy machine's noise is damped.
/// </summary>
public static class GenerationBench
{
    public sealed record EngineFigures(string Engine, double PrefillSeconds, double PrefillTokensPerSecond, double DecodeTokensPerSecond);
    public sealed record GenerationBenchResult(string Model, string ModelHash, long Params, int Threads, int PromptTokens,
        int DecodePromptTokens, int DecodeTokens, int Repeats, IReadOnlyList<EngineFigures> Engines, int SameGreedyTokens);

    public static Command Create()
    {
        var model = CliOptions.Model();
        var data = CliOptions.Data();
        var json = CliOptions.Json();
        var threads = new Option<int>("--threads") { Description = "threads for both engines (default: torch's)", DefaultValueFactory = _ => get_num_threads() };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "prefill prompt length (capped at the context)", DefaultValueFactory = _ => 256 };
        var decodeTokens = new Option<int>("--decode-tokens") { Description = "greedy tokens decoded one at a time", DefaultValueFactory = _ => 64 };
        var repeats = new Option<int>("--repeats") { Description = "timed runs per figure (best kept)", DefaultValueFactory = _ => 3 };
        var command = new Command("generation", "Prefill and batch-1 decode tokens/s: NasPrune vs llama.cpp on the same F32 weights")
        {
            model, threads, promptTokens, decodeTokens, repeats, json, data,
        };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            int n = parse.GetValue(threads), runs = parse.GetValue(repeats);
            if (n <= 0 || runs <= 0) throw new UserError("--threads and --repeats must be positive");
            set_num_threads(n);
            using var lm = HfCheckpoint.LoadModel(dir);
            lm.eval();
            int context = lm.Config.MaxPositionEmbeddings;
            int decode = parse.GetValue(decodeTokens);
            if (decode < 2 || decode >= context) throw new UserError($"--decode-tokens {decode}: must be in [2, {context - 1}] for a context of {context}");
            int prefillLength = Math.Min(parse.GetValue(promptTokens), context);
            if (prefillLength <= 0) throw new UserError($"--prompt-tokens {prefillLength}: must be positive");
            // The decode run starts from a short prompt so that prompt + decoded tokens fit the context.
            int decodePrompt = Math.Min(16, context - decode);
            var random = new Random(1);
            int[] prompt = Enumerable.Range(0, prefillLength).Select(_ => random.Next(lm.Config.VocabSize)).ToArray();

            var greedy = new TokenSampler(0, 1, 0);
            var ours = Measure(runs, () => TextGenerator.Generate(lm, prompt, 1, greedy).PrefillSeconds,
                () => TextGenerator.Generate(lm, prompt[..decodePrompt], decode, greedy), r => (r.Tokens.Count - 1) / r.DecodeSeconds);
            var ourTokens = TextGenerator.Generate(lm, prompt[..decodePrompt], decode, greedy).Tokens;

            string gguf = Path.Combine(Path.GetTempPath(), $"nasprune-bench-{Guid.NewGuid():N}.gguf");
            try
            {
                GgufExport.Write(lm, dir, gguf, GgufTensorType.F32, Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)));
                using var cpp = new LlamaCppModel(gguf, context, n);
                var theirs = Measure(runs, () => Time(() => cpp.NextTokenLogits(prompt, 0)),
                    () => CppGreedy(cpp, prompt[..decodePrompt], decode), r => (r.Tokens.Count - 1) / r.DecodeSeconds);
                var theirTokens = CppGreedy(cpp, prompt[..decodePrompt], decode).Tokens;
                int same = ourTokens.Zip(theirTokens).TakeWhile(p => p.First == p.Second).Count();
                var result = new GenerationBenchResult(dir, HfCheckpoint.ModelHash(dir), lm.Config.TotalParams, n, prefillLength, decodePrompt,
                    decode, runs, [Figures("nasprune", ours, prefillLength), Figures("llama.cpp", theirs, prefillLength)], same);
                if (parse.GetValue(json)) Output.WriteJson(result);
                else Print(result);
            }
            finally { File.Delete(gguf); }
            return 0;
        });
        return command;
    }

    /// <summary>llama.cpp's greedy decoding, step for step as <see cref="TextGenerator"/> does it.</summary>
    static TextGenerator.Result CppGreedy(LlamaCppModel cpp, int[] prompt, int count)
    {
        var clock = Stopwatch.StartNew();
        var tokens = new List<int> { TokenSampler.ArgMax(cpp.NextTokenLogits(prompt, 0)) };
        double prefill = clock.Elapsed.TotalSeconds;
        while (tokens.Count < count)
            tokens.Add(TokenSampler.ArgMax(cpp.NextTokenLogits([tokens[^1]], prompt.Length + tokens.Count - 1)));
        return new TextGenerator.Result(tokens, false, prefill, clock.Elapsed.TotalSeconds - prefill);
    }

    static (double Prefill, double DecodeRate) Measure(int runs, Func<double> prefill, Func<TextGenerator.Result> decode,
        Func<TextGenerator.Result, double> rate)
    {
        prefill();
        decode();
        double bestPrefill = Enumerable.Range(0, runs).Min(_ => prefill());
        double bestRate = Enumerable.Range(0, runs).Max(_ => rate(decode()));
        return (bestPrefill, bestRate);
    }

    static double Time(Action a)
    {
        var clock = Stopwatch.StartNew();
        a();
        return clock.Elapsed.TotalSeconds;
    }

    static EngineFigures Figures(string engine, (double Prefill, double DecodeRate) f, int promptTokens) =>
        new(engine, f.Prefill, promptTokens / f.Prefill, f.DecodeRate);

    static void Print(GenerationBenchResult r)
    {
        Console.WriteLine($"{r.Model} ({r.Params:N0} params, F32), {r.Threads} threads, best of {r.Repeats}:");
        foreach (var e in r.Engines)
            Console.WriteLine($"  {e.Engine,-9}  prefill {r.PromptTokens} tokens {e.PrefillSeconds * 1000:F1} ms ({e.PrefillTokensPerSecond:F0} tokens/s)," +
                              $"  decode {e.DecodeTokensPerSecond:F1} tokens/s");
        Console.WriteLine($"  greedy continuations of a {r.DecodePromptTokens}-token prompt agree on the first {r.SameGreedyTokens} of {r.DecodeTokens} tokens");
    }
}
