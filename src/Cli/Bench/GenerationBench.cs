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
/// of threads, for the dense model and for uniformly pruned exports of it (decode speed-up against the parameter
/// ratio: batch-1 decoding reads every weight once per token, so it is bound by memory bandwidth). Each figure is the
/// median of --repeats runs after one warm-up, the engines alternating variant by variant in one process.
/// </summary>
public static class GenerationBench
{
    public sealed record EngineFigures(string Engine, double PrefillSeconds, double PrefillTokensPerSecond, double DecodeTokensPerSecond);

    /// <param name="ParamRatio">dense parameters / this variant's (1 for the dense model)</param>
    /// <param name="NasPruneOverLlamaCppPrefill">NasPrune's prefill tokens/s over llama.cpp's</param>
    /// <param name="LlamaCppDecodeSpeedup">llama.cpp's decode tokens/s on this variant over the dense model's</param>
    /// <param name="LlamaCppSpeedupOverParamRatio">that speed-up over the parameter ratio (issue 16's goal: ≥ 0.9)</param>
    public sealed record VariantFigures(string Name, long Params, double ParamRatio, IReadOnlyList<EngineFigures> Engines, int SameGreedyTokens,
        double NasPruneOverLlamaCppPrefill, double NasPruneOverLlamaCppDecode, double NasPruneDecodeSpeedup, double LlamaCppDecodeSpeedup,
        double NasPruneSpeedupOverParamRatio, double LlamaCppSpeedupOverParamRatio);

    public sealed record GenerationBenchResult(string Model, string ModelHash, long Params, int Threads, int PromptTokens,
        int DecodePromptTokens, int DecodeTokens, int Repeats, string Statistic, IReadOnlyList<VariantFigures> Variants);

    /// <summary>Random-weight stand-ins of public shapes (name → config), for timing models larger than the embedded one.</summary>
    static readonly Dictionary<string, Func<ModelConfig>> RandomShapes = new()
    {
        // TinyLlama-1.1B (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json): 1,100,048,384 parameters.
        ["tinyllama-1.1b"] = () => ModelConfig.Uniform(vocab: 32000, hidden: 2048, layers: 22, heads: 32, kvHeads: 4, ffn: 5632,
            maxPositions: 2048, tieEmbeddings: false, rmsEps: 1e-5),
    };

    public static Command Create()
    {
        var model = CliOptions.Model();
        var data = CliOptions.Data();
        var json = CliOptions.Json();
        var threads = new Option<int>("--threads") { Description = "threads for both engines (default: torch's)", DefaultValueFactory = _ => get_num_threads() };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "prefill prompt length (capped at the context)", DefaultValueFactory = _ => 256 };
        var decodeTokens = new Option<int>("--decode-tokens") { Description = "greedy tokens decoded one at a time", DefaultValueFactory = _ => 64 };
        var repeats = new Option<int>("--repeats") { Description = "timed runs per figure (median kept)", DefaultValueFactory = _ => 5 };
        var pruned = new Option<double[]>("--pruned")
        {
            Description = "also uniformly pruned exports removing these shares of the parameters (0 for none)",
            DefaultValueFactory = _ => [0.2, 0.5],
            AllowMultipleArgumentsPerToken = true,
        };
        var randomShape = new Option<string?>("--random-shape")
        {
            Description = $"instead of --model's weights, random N(0, 0.02) weights of a public shape ({string.Join(", ", RandomShapes.Keys)}), with --model's tokenizer",
        };
        var profile = new Option<bool>("--profile") { Description = "instead: profile NasPrune's decode step (time and tensors per stage), evaluation forward vs fused decoder" };
        var command = new Command("generation", "Prefill and batch-1 decode tokens/s: NasPrune vs llama.cpp on the same F32 weights, dense and pruned")
        {
            model, threads, promptTokens, decodeTokens, repeats, pruned, randomShape, profile, json, data,
        };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            int n = parse.GetValue(threads), runs = parse.GetValue(repeats);
            if (n <= 0 || runs <= 0) throw new UserError("--threads and --repeats must be positive");
            var fractions = parse.GetValue(pruned)!.Where(f => f != 0).ToArray();
            if (fractions.Any(f => !(f > 0 && f < 1))) throw new UserError($"--pruned {string.Join(" ", fractions)}: shares must be inside (0, 1)");
            set_num_threads(n);
            string? shape = parse.GetValue(randomShape);
            using var lm = shape is null ? HfCheckpoint.LoadModel(dir) : RandomModel(shape);
            string hash = shape is null ? HfCheckpoint.ModelHash(dir) : $"random {shape}, seed 1";
            string name = shape is null ? dir : $"{shape} (random weights, tokenizer of {dir})";
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
            if (parse.GetValue(profile))
            {
                // Warm-up, then each path profiled over the same steps.
                DecodeProfile.Run(lm, prompt[..decodePrompt], Math.Min(decode, 8), fused: false);
                DecodeProfile.Run(lm, prompt[..decodePrompt], Math.Min(decode, 8), fused: true);
                var profiles = new[] { false, true }.Select(f => DecodeProfile.Run(lm, prompt[..decodePrompt], decode, f)).ToList();
                if (parse.GetValue(json)) Output.WriteJson(new { Model = name, Threads = n, Profiles = profiles });
                else
                {
                    Console.WriteLine($"{name} ({lm.Config.TotalParams:N0} params, F32), {n} threads, one token after a {decodePrompt}-token prompt:");
                    foreach (var p in profiles) DecodeProfile.Print(p, Console.Out);
                }
                return 0;
            }

            var variants = new List<VariantFigures>();
            var dense = MeasureVariant("dense", lm, dir, prompt, decodePrompt, decode, runs, n, null);
            variants.Add(dense);
            var space = new PruningSpace(lm.Config, hash);
            foreach (double f in fractions)
            {
                // A prefix of each layer's heads and channels in the shapes uniform pruning gives: which heads are
                // kept changes the text, not the speed.
                using var small = PhysicalPruning.Extract(lm, space.Uniform(f));
                small.eval();
                variants.Add(MeasureVariant($"uniform {f:P0} removed", small, dir, prompt, decodePrompt, decode, runs, n, dense));
            }
            var result = new GenerationBenchResult(name, hash, lm.Config.TotalParams, n, prefillLength, decodePrompt, decode, runs, "median", variants);
            if (parse.GetValue(json)) Output.WriteJson(result);
            else Print(result);
            return 0;
        });
        return command;
    }

    static LlamaForCausalLM RandomModel(string shape)
    {
        if (!RandomShapes.TryGetValue(shape, out var config))
            throw new UserError($"--random-shape {shape}: expected one of {string.Join(", ", RandomShapes.Keys)}");
        var m = new LlamaForCausalLM(config());
        m.InitializeWeights(1);
        return m;
    }

    static VariantFigures MeasureVariant(string name, LlamaForCausalLM lm, string tokenizerDir, int[] prompt, int decodePrompt, int decode,
        int runs, int threads, VariantFigures? dense)
    {
        Console.Error.WriteLine($"bench generation: {name} ({lm.Config.TotalParams:N0} params): NasPrune");
        var greedy = new TokenSampler(0, 1, 0);
        var (ours, ourTokens) = Measure(runs, () => TextGenerator.Generate(lm, prompt, 1, greedy).PrefillSeconds,
            () => TextGenerator.Generate(lm, prompt[..decodePrompt], decode, greedy));
        string gguf = Path.Combine(Path.GetTempPath(), $"nasprune-bench-{Guid.NewGuid():N}.gguf");
        try
        {
            Console.Error.WriteLine($"bench generation: {name}: F32 GGUF export, llama.cpp");
            GgufExport.Write(lm, tokenizerDir, gguf, GgufTensorType.F32, name);
            using var cpp = new LlamaCppModel(gguf, lm.Config.MaxPositionEmbeddings, threads);
            var (theirs, theirTokens) = Measure(runs, () => Time(() => cpp.NextTokenLogits(prompt, 0)),
                () => CppGreedy(cpp, prompt[..decodePrompt], decode));
            int same = ourTokens.Zip(theirTokens).TakeWhile(p => p.First == p.Second).Count();
            var engines = new[] { Figures("nasprune", ours, prompt.Length), Figures("llama.cpp", theirs, prompt.Length) };
            double ratio = dense is null ? 1 : (double)dense.Params / lm.Config.TotalParams;
            double oursUp = dense is null ? 1 : ours.DecodeRate / dense.Engines[0].DecodeTokensPerSecond;
            double theirsUp = dense is null ? 1 : theirs.DecodeRate / dense.Engines[1].DecodeTokensPerSecond;
            return new VariantFigures(name, lm.Config.TotalParams, ratio, engines, same,
                engines[0].PrefillTokensPerSecond / engines[1].PrefillTokensPerSecond, ours.DecodeRate / theirs.DecodeRate,
                oursUp, theirsUp, oursUp / ratio, theirsUp / ratio);
        }
        finally { File.Delete(gguf); }
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

    /// <summary>Medians of prefill seconds and decode tokens/s (the first token comes from the prompt, so it is not counted) over timed runs after a warm-up; and the greedy tokens of the last run.</summary>
    static ((double Prefill, double DecodeRate) Figures, IReadOnlyList<int> Tokens) Measure(int runs, Func<double> prefill, Func<TextGenerator.Result> decode)
    {
        prefill();
        decode();
        var prefills = Enumerable.Range(0, runs).Select(_ => prefill()).ToArray();
        var decodes = Enumerable.Range(0, runs).Select(_ => decode()).ToArray();
        return ((Median(prefills), Median(decodes.Select(r => (r.Tokens.Count - 1) / r.DecodeSeconds))), decodes[^1].Tokens);
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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
        Console.WriteLine($"{r.Model} ({r.Params:N0} params, F32), {r.Threads} threads, median of {r.Repeats} runs; prefill {r.PromptTokens} tokens, " +
                          $"decode {r.DecodeTokens} greedy tokens after {r.DecodePromptTokens}:");
        foreach (var v in r.Variants)
        {
            Console.WriteLine($"  {v.Name} ({v.Params:N0} params, ratio {v.ParamRatio:F2}):");
            foreach (var e in v.Engines)
                Console.WriteLine($"    {e.Engine,-9}  prefill {e.PrefillSeconds * 1000,8:F1} ms ({e.PrefillTokensPerSecond,7:F0} tokens/s)  decode {e.DecodeTokensPerSecond,7:F1} tokens/s");
            Console.WriteLine($"    NasPrune / llama.cpp: prefill {v.NasPruneOverLlamaCppPrefill:F2}×, decode {v.NasPruneOverLlamaCppDecode:F2}×; " +
                              $"greedy continuations agree on the first {v.SameGreedyTokens} of {r.DecodeTokens} tokens");
            if (v.ParamRatio != 1)
                Console.WriteLine($"    decode speed-up over dense: llama.cpp {v.LlamaCppDecodeSpeedup:F2}× = {v.LlamaCppSpeedupOverParamRatio:F2} of the parameter ratio, " +
                                  $"NasPrune {v.NasPruneDecodeSpeedup:F2}× = {v.NasPruneSpeedupOverParamRatio:F2} of it");
        }
    }
}
