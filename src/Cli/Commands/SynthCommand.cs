using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Synthetic;
using Spectre.Console;
using static TorchSharp.torch;

namespace NasPrune.Cli.Commands;

/// <summary><c>nasprune synth</c>: a random-weight Hugging Face checkpoint at a real model's shape.</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var shape = new Option<string?>("--shape") { Description = "model shape (see --list): qwen2.5-0.5b, tinyllama-1.1b, qwen3-0.6b, ..." };
        var output = new Option<string?>("--out") { Description = "output directory (created)" };
        var seed = CliOptions.Seed(0);
        var dtype = new Option<string>("--dtype") { Description = "bf16 (as real checkpoints), f16 or f32", DefaultValueFactory = _ => "bf16" };
        var list = new Option<bool>("--list") { Description = "list the known shapes and exit" };
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("synth", "Writes a random-weight Hugging Face checkpoint at a real model's shape (config.json, BF16 safetensors, tokenizer)")
            { shape, output, seed, dtype, list, json, data };
        command.SetAction(parse =>
        {
            if (parse.GetValue(list))
            {
                var rows = ShapeTable.All.Select(s =>
                {
                    var c = ModelConfig.FromJson(s.Config(), s.Name);
                    return new { s.Name, s.Source, c.ModelType, Params = c.TotalParams, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.IntermediateSize, c.VocabSize };
                }).ToList();
                if (parse.GetValue(json)) { Output.WriteJson(rows); return 0; }
                var table = new Table().AddColumns("shape", "as", "model_type", "params", "layers", "hidden", "heads/kv", "ffn", "vocab");
                foreach (var r in rows)
                    table.AddRow(r.Name, r.Source, r.ModelType, $"{r.Params:N0}", $"{r.NumHiddenLayers}", $"{r.HiddenSize}", $"{r.NumAttentionHeads}/{r.NumKeyValueHeads}", $"{r.IntermediateSize}", $"{r.VocabSize:N0}");
                AnsiConsole.Write(table);
                return 0;
            }
            string name = parse.GetValue(shape) ?? throw new UserError("--shape is required (or --list)");
            string outDir = parse.GetValue(output) ?? throw new UserError("--out is required");
            var type = parse.GetValue(dtype)!.ToLowerInvariant() switch
            {
                "bf16" or "bfloat16" => ScalarType.BFloat16,
                "f16" or "float16" => ScalarType.Float16,
                "f32" or "float32" => ScalarType.Float32,
                var other => throw new UserError($"--dtype {other}: expected bf16, f16 or f32"),
            };
            string tokenizerDir = DataDirectory.DefaultModel(parse.GetValue(data));
            var result = SyntheticCheckpoint.Write(name, outDir, tokenizerDir, parse.GetValue(seed), type, Output.Log);
            if (parse.GetValue(json)) { Output.WriteJson(result); return 0; }
            Console.WriteLine($"{result.Out}: synthetic {result.Shape} ({result.ModelType}, as {result.Source}), {result.Params:N0} parameters, " +
                              $"{result.WeightBytes / 1e9:F2} GB of {result.DType} in {result.Tensors} tensors, vocabulary {result.VocabSize:N0} " +
                              $"({result.TrainedTokens:N0} learned BPE tokens), seed {result.Seed}, {result.Seconds:F1} s");
            return 0;
        });
        return command;
    }
}
