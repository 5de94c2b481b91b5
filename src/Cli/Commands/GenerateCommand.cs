using System.CommandLine;
using System.Text;
using NasPrune.Common;
using NasPrune.Evaluator.Generation;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Cli.Commands;

/// <summary>
/// <c>nasprune generate</c>: continue a prompt with a model or, with <c>--arch</c>, a pruning candidate of it,
/// decoding incrementally (key/value cache) and streaming the text to stdout as it is produced.
/// </summary>
public static class GenerateCommand
{
    public sealed record GenerateResult(string Model, string Prompt, int PromptTokens, int GeneratedTokens, bool StoppedAtEndOfText,
        string Text, IReadOnlyList<int> Tokens, double Temperature, double TopP, long Seed, double PrefillSeconds, double DecodeTokensPerSecond);

    public static Command Create()
    {
        var model = CliOptions.Model();
        var arch = new Option<string?>("--arch") { Description = "generate with this pruning candidate of --model (architecture JSON)" };
        var criterion = CliOptions.Criterion("importance criterion that orders heads and channels for --arch");
        var calibrationSeed = new Option<long>("--calibration-seed")
        {
            Description = "seed of the calibration windows behind --criterion (as eval's --seed)",
            DefaultValueFactory = _ => new CalibrationSettings().Seed,
        };
        var prompt = new Option<string?>("--prompt") { Description = "the text to continue" };
        var promptFile = new Option<string?>("--prompt-file") { Description = "read the text to continue from this file" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens to generate at most", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "sampling temperature; 0 is greedy", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { Description = "nucleus sampling: keep the most likely tokens up to this probability", DefaultValueFactory = _ => 0.95 };
        var seed = CliOptions.Seed();
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("generate", "Continue a prompt with a model or a pruned candidate, streaming tokens to stdout")
        {
            model, arch, criterion, calibrationSeed, prompt, promptFile, maxNew, temperature, topP, seed, device, dtype, json, data,
        };
        command.SetAction(parse =>
        {
            string text = PromptText(parse.GetValue(prompt), parse.GetValue(promptFile));
            var sampler = new TokenSampler(parse.GetValue(temperature), parse.GetValue(topP), parse.GetValue(seed));
            int maxNewTokens = parse.GetValue(maxNew);
            if (maxNewTokens <= 0) throw new UserError($"--max-new-tokens {maxNewTokens}: must be positive");
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            string modelDir = parse.GetValue(model) ?? DataDirectory.DefaultModel(dataDir);
            bool asJson = parse.GetValue(json);
            var tokenizer = TokenizerLoader.Load(modelDir);
            var promptIds = tokenizer.Encode(text);
            var dev = DeviceChoice.Resolve(parse.GetValue(device));
            using var evaluated = EvaluatedModel.Load(modelDir, dataDir, parse.GetValue(arch), parse.GetValue(criterion)!,
                parse.GetValue(calibrationSeed), dev, DeviceChoice.ResolveDtype(parse.GetValue(dtype), dev));
            evaluated.Model.eval();

            var stream = new StreamingDetokenizer(tokenizer);
            var stdout = Console.Out;
            if (!asJson) stdout.Write(text);
            var result = TextGenerator.Generate(evaluated.Model, promptIds, maxNewTokens, sampler, tokenizer.EndOfTextId, id =>
            {
                if (asJson) return;
                stdout.Write(stream.Push(id));
                stdout.Flush();
            });
            double decodeRate = result.Tokens.Count > 1 ? (result.Tokens.Count - 1) / result.DecodeSeconds : 0;
            if (asJson)
                Output.WriteJson(new GenerateResult(evaluated.Identity, text, promptIds.Length, result.Tokens.Count, result.StoppedAtEndOfText,
                    tokenizer.Decode(result.Tokens), result.Tokens, parse.GetValue(temperature), parse.GetValue(topP), parse.GetValue(seed),
                    result.PrefillSeconds, decodeRate));
            else
            {
                stdout.WriteLine(stream.Flush());
                Output.Log($"{promptIds.Length} prompt tokens in {result.PrefillSeconds:F3} s, {result.Tokens.Count} generated ({decodeRate:F1} tokens/s)" +
                           (result.StoppedAtEndOfText ? ", stopped at end of text" : ""));
            }
            return 0;
        });
        return command;
    }

    static string PromptText(string? prompt, string? file)
    {
        if ((prompt is null) == (file is null)) throw new UserError("generate needs exactly one of --prompt TEXT and --prompt-file FILE");
        string text = prompt ?? (File.Exists(file) ? File.ReadAllText(file!, Encoding.UTF8) : throw new UserError($"--prompt-file {file}: file not found"));
        if (text.Length == 0) throw new UserError("the prompt is empty");
        return text;
    }
}
