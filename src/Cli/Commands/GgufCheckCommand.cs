using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune gguf-check</c>: does llama.cpp compute what NasPrune computes? Loads a GGUF file in llama.cpp (through
/// LLamaSharp) and the Hugging Face checkpoint it was exported from in NasPrune, tokenizes a whole perplexity split
/// with both, and compares logits and perplexity on its first windows. Exit 0 when the ids are equal and both
/// differences are within tolerance, 1 when they are not (the figures say by how much), 2 on bad input.
/// </summary>
public static class GgufCheckCommand
{
    public sealed record GgufCheckResult(string Gguf, string Model, string Task, string Split, int Tokens, bool TokenizerAgrees,
        int? FirstDifferentToken, int Windows, int SeqLen, double MaxLogitDifference, double LargestLogit, double RelativeLogitDifference,
        double PplNasprune, double PplLlamaCpp, double RelativePplDifference, double LogitTolerance, double PplTolerance, bool Agrees);

    public static Command Create()
    {
        var gguf = new Option<string?>("--gguf") { Description = "the GGUF file (nasprune export --format gguf)" };
        var model = CliOptions.Model();
        model.Description = "the Hugging Face checkpoint the file was exported from (default: the embedded model)";
        var task = new Option<string>("--task") { Description = "perplexity text: wikitext2 or ptb", DefaultValueFactory = _ => "wikitext2" };
        var split = new Option<string>("--split") { Description = "validation (default) or test", DefaultValueFactory = _ => "validation" };
        var seqLen = new Option<int>("--seq-len") { Description = "window length", DefaultValueFactory = _ => 128 };
        var windows = new Option<int>("--max-windows") { Description = "windows compared (every logit of each)", DefaultValueFactory = _ => 2 };
        var threads = new Option<int>("--threads") { Description = "llama.cpp's threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var logitTolerance = new Option<double>("--logit-tolerance")
        {
            Description = "largest |logit difference| allowed, as a share of the largest |logit| (1e-3 holds for F32 files; F16/BF16 need more)",
            DefaultValueFactory = _ => 1e-3,
        };
        var pplTolerance = new Option<double>("--ppl-tolerance")
        {
            Description = "relative perplexity difference allowed (1e-4 holds for F32 files)",
            DefaultValueFactory = _ => 1e-4,
        };
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("gguf-check",
            "Check a GGUF export in llama.cpp against NasPrune: the same token ids on a whole split, and the same logits and " +
            "perplexity on its first windows (exit 1 when they differ beyond the tolerances)")
        {
            gguf, model, task, split, seqLen, windows, threads, logitTolerance, pplTolerance, json, data,
        };
        command.SetAction(parse =>
        {
            string file = parse.GetValue(gguf) ?? throw new UserError("--gguf is required");
            if (!File.Exists(file)) throw new UserError($"--gguf {file}: no such file");
            int length = Positive(parse.GetValue(seqLen), "--seq-len"), count = Positive(parse.GetValue(windows), "--max-windows");
            int threadCount = Positive(parse.GetValue(threads), "--threads");
            double logitTol = NonNegative(parse.GetValue(logitTolerance), "--logit-tolerance"), pplTol = NonNegative(parse.GetValue(pplTolerance), "--ppl-tolerance");
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            var t = PerplexityTask.Get(parse.GetValue(task)!);
            var s = PerplexityTask.ParseSplit(parse.GetValue(split)!);
            var config = HfCheckpoint.LoadConfig(modelDir);
            if (length > config.MaxPositionEmbeddings)
                throw new UserError($"--seq-len {length}: longer than {modelDir}'s context ({config.MaxPositionEmbeddings})");

            string text = t.LoadText(dataDir, s);
            var ids = TokenizerLoader.Load(modelDir).Encode(text);
            if (ids.Length < length) throw new UserError($"{t.Name} {parse.GetValue(split)}: {ids.Length} tokens, fewer than one --seq-len {length} window");
            // The first windows `eval` scores, as the ids both engines take.
            var compared = PerplexityEvaluator.Windows(ids, length, count).Select(w => Array.ConvertAll(w, i => (int)i)).ToArray();

            using var cpp = LoadLlamaCpp(file, length, threadCount);
            if (cpp.VocabSize != config.VocabSize)
                throw new UserError($"{file}: llama.cpp reads a vocabulary of {cpp.VocabSize} tokens, {modelDir}/config.json's vocab_size is {config.VocabSize}: not an export of this model");
            var theirIds = Output.WithStatus("llama.cpp tokenizes the split", () => cpp.Tokenize(text));
            int? firstDifference = FirstDifference(ids, theirIds);

            using var lm = HfCheckpoint.LoadModel(modelDir);
            lm.eval();
            var r = Output.WithProgress("logits, NasPrune and llama.cpp", compared.Length, progress => GgufAgreement.Measure(lm, cpp, compared, progress));
            bool agrees = firstDifference is null && r.RelativeLogitDifference <= logitTol && r.RelativePplDifference <= pplTol;
            var result = new GgufCheckResult(file, modelDir, t.Name, s.ToString().ToLowerInvariant(), ids.Length, firstDifference is null, firstDifference,
                r.Windows, r.SeqLen, r.MaxLogitDifference, r.LargestLogit, r.RelativeLogitDifference, r.PplNasPrune, r.PplLlamaCpp,
                r.RelativePplDifference, logitTol, pplTol, agrees);
            if (parse.GetValue(json)) Output.WriteJson(result);
            else
            {
                Console.WriteLine(firstDifference is null
                    ? $"tokenizer: llama.cpp gives NasPrune's {ids.Length:N0} ids on {t.Name} {result.Split}"
                    : $"tokenizer: llama.cpp's ids differ from NasPrune's at token {firstDifference:N0} ({ids.Length:N0} ids against {theirIds.Length:N0})");
                Console.WriteLine($"logits: max |difference| {r.MaxLogitDifference:0.000e+0} = {r.RelativeLogitDifference:0.00e+0} of the largest {r.LargestLogit:F3} " +
                                  $"(tolerance {logitTol:0.0e+0}); {r.Windows} windows x {length} tokens");
                Console.WriteLine($"perplexity: NasPrune {r.PplNasPrune:F4}, llama.cpp {r.PplLlamaCpp:F4}, relative difference {r.RelativePplDifference:0.00e+0} (tolerance {pplTol:0.0e+0})");
                Console.WriteLine(agrees ? "agrees" : "DISAGREES");
            }
            return agrees ? 0 : 1;
        });
        return command;
    }

    /// <summary>llama.cpp's refusal is in its log (stderr); the exception only says that loading failed.</summary>
    static LlamaCppModel LoadLlamaCpp(string file, int contextSize, int threads)
    {
        try { return new LlamaCppModel(file, contextSize, threads); }
        catch (LLama.Exceptions.RuntimeError)
        {
            throw new UserError($"{file}: llama.cpp could not load it (its log above says why)");
        }
    }

    static int? FirstDifference(int[] a, int[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++) if (a[i] != b[i]) return i;
        return a.Length == b.Length ? null : n;
    }

    static int Positive(int value, string name) => value > 0 ? value : throw new UserError($"{name} {value}: must be positive");

    static double NonNegative(double value, string name) => value >= 0 ? value : throw new UserError($"{name} {value}: must not be negative");
}
