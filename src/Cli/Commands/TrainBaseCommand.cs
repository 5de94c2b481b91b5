using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Tokenization;
using NasPrune.Evaluator.Training;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune train-base</c>: trains NasPrune's own small LLaMA-architecture model from scratch (byte-level BPE
/// tokenizer included) on a general-English corpus, then writes a Hugging Face checkpoint with a README that
/// records the command, the seed, the training curve and WikiText-2/PTB/heldout perplexities beside a
/// unigram baseline's.
/// </summary>
public static class TrainBaseCommand
{
    public sealed record EvalFigure(string Task, string Split, int Windows, long Tokens, double Ppl, double UnigramPpl);
    public sealed record TrainBaseResult(string Out, string ModelHash, long Params, int Steps, long TrainTokens,
        long CorpusTrainTokens, double FinalTrainLoss, double? FinalValidationLoss, double TrainSeconds,
        IReadOnlyList<EvalFigure> Evaluations);

    public static Command Create()
    {
        var defaults = new TrainBaseOptions();
        var output = new Option<string>("--out") { Description = "output model directory (must not exist, unless --force)", Required = true };
        var corpus = new Option<string?>("--corpus") { Description = "directory of *.txt training files (default: data/train-corpus)" };
        var force = new Option<bool>("--force") { Description = "replace an existing output directory" };
        var vocab = Int("--vocab", "BPE vocabulary size", defaults.VocabSize);
        var layers = Int("--layers", "decoder layers", defaults.Layers);
        var hidden = Int("--hidden", "model width", defaults.Hidden);
        var heads = Int("--heads", "attention heads", defaults.Heads);
        var kvHeads = Int("--kv-heads", "key/value heads (GQA when fewer than --heads)", defaults.KvHeads);
        var ffn = Int("--ffn", "SwiGLU FFN channels", defaults.Ffn);
        var seqLen = Int("--seq-len", "context length", defaults.SeqLen);
        var batch = Int("--batch-size", "sequences per step", defaults.BatchSize);
        var steps = Int("--steps", "optimizer steps", defaults.Steps);
        var warmup = Int("--warmup", "linear warmup steps", defaults.WarmupSteps);
        var evalEvery = Int("--eval-every", "steps between held-out evaluations", defaults.EvalEvery);
        var finalWindows = new Option<int?>("--final-eval-windows") { Description = "limit the closing WikiText-2/PTB/heldout evaluations to N windows each (default: whole splits)" };
        var lr = new Option<double>("--lr") { Description = "peak learning rate (AdamW, cosine decay)", DefaultValueFactory = _ => defaults.LearningRate };
        var seed = CliOptions.Seed(defaults.Seed);
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("train-base", "Train a small LLaMA-architecture base model and its tokenizer from scratch")
        {
            output, corpus, force, vocab, layers, hidden, heads, kvHeads, ffn, seqLen, batch, steps, warmup, evalEvery, lr,
            finalWindows, seed, device, json, data,
        };
        command.SetAction(parse =>
        {
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            OutputDirectory.CheckWritable(outDir, parse.GetValue(force));
            var options = new TrainBaseOptions
            {
                VocabSize = parse.GetValue(vocab), Layers = parse.GetValue(layers), Hidden = parse.GetValue(hidden),
                Heads = parse.GetValue(heads), KvHeads = parse.GetValue(kvHeads), Ffn = parse.GetValue(ffn),
                SeqLen = parse.GetValue(seqLen), BatchSize = parse.GetValue(batch), Steps = parse.GetValue(steps),
                WarmupSteps = parse.GetValue(warmup), EvalEvery = parse.GetValue(evalEvery), LearningRate = parse.GetValue(lr),
                Seed = parse.GetValue(seed),
            };
            Validate(options);
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            int? limit = parse.GetValue(finalWindows);
            if (limit is <= 0) throw new UserError($"--final-eval-windows {limit}: must be positive");
            var result = Run(options, parse.GetValue(corpus) ?? Path.Combine(dataDir, "train-corpus"), dataDir, outDir, dev,
                "nasprune " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)), limit);
            if (parse.GetValue(json)) Output.WriteJson(result);
            else
            {
                Console.WriteLine($"{result.Out}: {result.Params:N0} parameters, {result.Steps} steps, {result.TrainSeconds / 60:F1} min, model {result.ModelHash}");
                foreach (var e in result.Evaluations)
                    Console.WriteLine($"  {e.Task} {e.Split}: ppl {e.Ppl:F2} (unigram {e.UnigramPpl:F2})");
            }
            return 0;
        });
        return command;
    }

    static Option<int> Int(string name, string description, int value) =>
        new(name) { Description = description, DefaultValueFactory = _ => value };

    static void Validate(TrainBaseOptions o)
    {
        foreach (var (name, v) in new[] { ("--vocab", o.VocabSize), ("--layers", o.Layers), ("--hidden", o.Hidden), ("--heads", o.Heads),
                     ("--kv-heads", o.KvHeads), ("--ffn", o.Ffn), ("--seq-len", o.SeqLen), ("--batch-size", o.BatchSize),
                     ("--steps", o.Steps), ("--eval-every", o.EvalEvery) })
            if (v <= 0) throw new UserError($"{name} {v}: must be positive");
        if (o.VocabSize <= 256) throw new UserError($"--vocab {o.VocabSize}: a byte-level BPE needs more than 256 entries");
        if (o.Hidden % o.Heads != 0 || (o.Hidden / o.Heads) % 2 != 0)
            throw new UserError($"--hidden {o.Hidden} must split into --heads {o.Heads} heads of even size");
        if (o.Heads % o.KvHeads != 0) throw new UserError($"--heads {o.Heads} is not a multiple of --kv-heads {o.KvHeads}");
    }

    public static TrainBaseResult Run(TrainBaseOptions o, string corpusDir, string dataDir, string outDir, TorchSharp.torch.Device device, string commandLine,
        int? finalEvalWindows = null)
    {
        var corpus = TrainingCorpus.Load(corpusDir);
        Output.Log($"corpus: {string.Join(", ", corpus.Files.Select(Path.GetFileName))}; training a {o.VocabSize}-entry byte-level BPE");
        var bpe = ByteLevelBpeTrainer.Train(corpus.TrainTexts, new BpeTrainerOptions(o.VocabSize));
        string staging = OutputDirectory.BeginStaging(outDir);
        bpe.Save(staging, o.SeqLen);
        var tokenizer = TokenizerLoader.Load(staging);
        int eos = tokenizer.EndOfTextId ?? throw new InvalidOperationException("trained tokenizer has no end-of-text token");
        var train = TrainingCorpus.TokenStream(corpus.TrainTexts, tokenizer.Encode, eos);
        var heldOut = TrainingCorpus.TokenStream(corpus.HeldOutTexts, tokenizer.Encode, eos);
        Output.Log($"training stream {train.Length:N0} tokens, held-out {heldOut.Length:N0}; {o.Steps} steps x {o.BatchSize} x {o.SeqLen} = {(long)o.Steps * o.BatchSize * o.SeqLen:N0} tokens");

        var curve = new List<TrainingPoint>();
        var watch = Stopwatch.StartNew();
        using var model = Output.WithProgress("train-base", o.Steps, progress =>
            new BaseModelTrainer(o).Train(train, heldOut, eos, device, point =>
            {
                curve.Add(point);
                Output.Log($"step {point.Step,6}  train loss {point.TrainLoss:F4}  held-out loss {point.ValidationLoss:F4}  lr {point.LearningRate:E2}  {point.Seconds:F0} s");
            }, progress));
        double trainSeconds = watch.Elapsed.TotalSeconds;
        HfCheckpoint.SaveModel(model, staging);
        WriteCurve(Path.Combine(staging, "training_log.csv"), curve);

        var unigram = new UnigramBaseline(train, tokenizer.VocabSize);
        var evaluations = new List<EvalFigure>();
        foreach (var task in PerplexityTask.All)
            foreach (var split in new[] { Split.Validation, Split.Test })
            {
                var ids = tokenizer.Encode(task.LoadText(dataDir, split));
                var windows = PerplexityEvaluator.Windows(ids, o.SeqLen, finalEvalWindows);
                string splitName = split.ToString().ToLowerInvariant();
                var r = Output.WithProgress($"{task.Name} {splitName}", windows.Length,
                    progress => PerplexityEvaluator.Evaluate(model, ids, task.Name, splitName, o.SeqLen, 8, finalEvalWindows, progress));
                evaluations.Add(new EvalFigure(task.Name, splitName, r.Windows, r.Tokens, r.Ppl, unigram.Perplexity(windows)));
            }
        string hash = HfCheckpoint.ModelHash(staging);
        var result = new TrainBaseResult(outDir, hash, model.Config.TotalParams, o.Steps, (long)o.Steps * o.BatchSize * o.SeqLen,
            train.Length, curve[^1].TrainLoss, curve[^1].ValidationLoss, trainSeconds, evaluations);
        File.WriteAllText(Path.Combine(staging, "train_results.json"), Output.ToJson(result) + "\n");
        File.WriteAllText(Path.Combine(staging, "README.md"), Readme(o, corpus, commandLine, result, curve, model.Config));

        OutputDirectory.Publish(staging, outDir);
        return result;
    }

    static void WriteCurve(string path, IEnumerable<TrainingPoint> curve)
    {
        var sb = new StringBuilder("step,tokens,train_loss,heldout_loss,lr,seconds\n");
        foreach (var p in curve)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Step},{p.Tokens},{p.TrainLoss:F5},{p.ValidationLoss:F5},{p.LearningRate:E4},{p.Seconds:F1}"));
        File.WriteAllText(path, sb.ToString());
    }

    static string Readme(TrainBaseOptions o, TrainingCorpus corpus, string commandLine, TrainBaseResult r,
        IReadOnlyList<TrainingPoint> curve, ModelConfig c)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine($"# {Path.GetFileName(r.Out)}");
        sb.AppendLine();
        sb.AppendLine("A LLaMA-architecture decoder (RMSNorm, RoPE, SwiGLU, tied embeddings) and a byte-level BPE tokenizer, both");
        sb.AppendLine("trained from scratch by NasPrune on the training corpus below; the tokenizer on the same text. A standard");
        sb.AppendLine("Hugging Face checkpoint: `config.json`, `model.safetensors`, `tokenizer.json`.");
        sb.AppendLine();
        sb.AppendLine("Training files (the last 2 % of each held out of training): " + string.Join(", ", corpus.Files.Select(f => $"`{Path.GetFileName(f)}`")) + ".");
        sb.AppendLine("Evaluation splits (WikiText-2 raw and PTB validation/test) are never trained on; where the corpus holds their");
        sb.AppendLine("training splits, the model is in-domain for them, as a real LLM that has seen Wikipedia is. `heldout` is the");
        sb.AppendLine("held-out tail of the general-English files (`brown.txt`, `sotu.txt`).");
        sb.AppendLine();
        sb.AppendLine("## How it was made");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(commandLine);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Seed {o.Seed}; {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads ({c.NumKeyValueHeads} key/value), FFN {c.IntermediateSize}, vocabulary {c.VocabSize}, context {c.MaxPositionEmbeddings}; {r.Params:N0} parameters."));
        sb.AppendLine(string.Create(inv, $"AdamW (β = 0.9, 0.95; weight decay {o.WeightDecay} on matrices), peak learning rate {o.LearningRate}, {o.WarmupSteps} warmup steps, cosine decay to {o.MinLrRatio:P0}, gradient clipping {o.GradClip};"));
        sb.AppendLine(string.Create(inv, $"{o.Steps} steps of {o.BatchSize} random windows of {o.SeqLen} tokens = {r.TrainTokens:N0} tokens seen, of a {r.CorpusTrainTokens:N0}-token training stream (last 2% of each corpus file held out)."));
        sb.AppendLine(string.Create(inv, $"Training took {r.TrainSeconds / 60:F1} minutes on {Environment.ProcessorCount} CPU cores ({TorchSharp.torch.get_num_threads()} torch threads). Model hash {r.ModelHash}."));
        sb.AppendLine();
        sb.AppendLine("## Perplexity (non-overlapping windows of the full context, mean token NLL)");
        sb.AppendLine();
        sb.AppendLine("| task | split | windows | predicted tokens | perplexity | unigram perplexity (same tokens) |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var e in r.Evaluations)
            sb.AppendLine(string.Create(inv, $"| {e.Task} | {e.Split} | {e.Windows} | {e.Tokens:N0} | {e.Ppl:F2} | {e.UnigramPpl:F2} |"));
        sb.AppendLine();
        sb.AppendLine("The unigram model is add-one-smoothed token frequencies of the training stream. Reproduce a figure with e.g.");
        sb.AppendLine("`nasprune eval --model data/models/nasprune-tiny-llama --task wikitext2 --split test`.");
        sb.AppendLine();
        sb.AppendLine("## Training curve (`training_log.csv`)");
        sb.AppendLine();
        sb.AppendLine("| step | tokens | train loss | held-out loss | learning rate | seconds |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var p in curve)
            sb.AppendLine(string.Create(inv, $"| {p.Step} | {p.Tokens:N0} | {p.TrainLoss:F4} | {p.ValidationLoss:F4} | {p.LearningRate:E2} | {p.Seconds:F0} |"));
        return sb.ToString();
    }
}
