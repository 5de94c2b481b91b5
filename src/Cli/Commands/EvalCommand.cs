using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Cli.Commands;

/// <summary><c>nasprune eval</c>: perplexity of a model on WikiText-2 or PTB under a recorded protocol.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var task = new Option<string>("--task") { Description = "wikitext2 or ptb", DefaultValueFactory = _ => "wikitext2" };
        var split = new Option<string>("--split")
        {
            Description = "test (final verification) or validation (calibration and search)",
            DefaultValueFactory = _ => "test",
        };
        var seqLen = new Option<int?>("--seq-len") { Description = "window length (default: the model's context length)" };
        var protocol = new Option<string?>("--protocol") { Description = "llm-pruner: 128-token windows, as LLM-Pruner reports" };
        var maxWindows = new Option<int?>("--max-windows") { Description = "evaluate only the first N windows" };
        var batch = new Option<int>("--batch-size") { Description = "windows per forward pass", DefaultValueFactory = _ => 8 };
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype();
        var seed = CliOptions.Seed();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("eval", "Perplexity of a model on WikiText-2 or PTB (non-overlapping windows, mean token NLL)")
        {
            model, task, split, seqLen, protocol, maxWindows, batch, device, dtype, seed, json, data,
        };
        command.SetAction(parse =>
        {
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            var t = PerplexityTask.Get(parse.GetValue(task)!);
            var s = PerplexityTask.ParseSplit(parse.GetValue(split)!);
            int? windows = parse.GetValue(maxWindows);
            if (windows is <= 0) throw new UserError($"--max-windows {windows}: must be positive");
            int batchSize = parse.GetValue(batch);
            if (batchSize <= 0) throw new UserError($"--batch-size {batchSize}: must be positive");

            var config = HfCheckpoint.LoadConfig(modelDir);
            int length = ResolveSeqLen(parse.GetValue(seqLen), parse.GetValue(protocol), config);
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            TorchSharp.torch.manual_seed(parse.GetValue(seed));
            var tokenizer = TokenizerLoader.Load(modelDir);
            using var lm = HfCheckpoint.LoadModel(modelDir, dev, DeviceChoice.ResolveDtype(parse.GetValue(dtype), dev));
            var ids = tokenizer.Encode(t.LoadText(dataDir, s));
            int total = Math.Min(ids.Length / length, windows ?? int.MaxValue);
            var result = Output.WithProgress($"{t.Name} {s.ToString().ToLowerInvariant()}", total,
                progress => PerplexityEvaluator.Evaluate(lm, ids, t.Name, s.ToString().ToLowerInvariant(), length, batchSize, windows, progress))
                with { Tokenizer = tokenizer.Description, ModelHash = HfCheckpoint.ModelHash(modelDir) };
            if (parse.GetValue(json)) Output.WriteJson(result);
            else
                Console.WriteLine($"{result.Task} {result.Split}: ppl {result.Ppl:F3}  (nll {result.Nll:F5}, {result.Windows} windows x {result.SeqLen} tokens, " +
                                  $"{result.Tokens} predicted tokens, {result.Seconds:F1} s, model {result.ModelHash})");
            return 0;
        });
        return command;
    }

    /// <summary>--seq-len, else the protocol's, else the model's context length.</summary>
    public static int ResolveSeqLen(int? seqLen, string? protocol, ModelConfig config)
    {
        int length = protocol switch
        {
            null => seqLen ?? config.MaxPositionEmbeddings,
            "llm-pruner" => seqLen ?? 128,
            _ => throw new UserError($"--protocol {protocol}: known protocols: llm-pruner"),
        };
        if (length < 2 || length > config.MaxPositionEmbeddings)
            throw new UserError($"--seq-len {length}: must be between 2 and the model's max_position_embeddings {config.MaxPositionEmbeddings}");
        return length;
    }
}
