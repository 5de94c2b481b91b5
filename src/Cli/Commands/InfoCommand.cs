using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using Spectre.Console;

namespace NasPrune.Cli.Commands;

/// <summary><c>nasprune info</c>: a model's architecture, parameter count and per-layer shapes.</summary>
public static class InfoCommand
{
    public sealed record LayerInfo(int Layer, bool Keep, int Heads, int KvHeads, int Ffn, long Params);
    public sealed record ModelInfo(string Model, string ModelType, string ModelHash, long Params, int Layers, int Hidden,
        int Heads, int KvHeads, int HeadDim, int Ffn, int Vocab, int MaxPositions, bool TiedEmbeddings, bool Heterogeneous,
        double ForwardFlopsPerToken, IReadOnlyList<LayerInfo> PerLayer);

    public static Command Create()
    {
        var model = CliOptions.Model();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var command = new Command("info", "Architecture, parameter count and per-layer shapes of a model") { model, json, data };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(model) ?? DataDirectory.DefaultModel(parse.GetValue(data));
            var info = Describe(dir);
            if (parse.GetValue(json)) { Output.WriteJson(info); return 0; }
            Console.WriteLine($"{info.Model}  ({info.ModelType}, hash {info.ModelHash})");
            Console.WriteLine($"parameters {info.Params:N0}; {info.Layers} layers, hidden {info.Hidden}, heads {info.Heads} " +
                              $"(kv {info.KvHeads}, head_dim {info.HeadDim}), ffn {info.Ffn}, vocab {info.Vocab}, context {info.MaxPositions}, " +
                              $"{(info.TiedEmbeddings ? "tied" : "untied")} embeddings; {info.ForwardFlopsPerToken / 1e6:F1} MFLOP/token forward");
            var table = new Table().AddColumns("layer", "kept", "heads", "kv heads", "ffn", "params");
            foreach (var l in info.PerLayer)
                table.AddRow($"{l.Layer}", l.Keep ? "yes" : "no", $"{l.Heads}", $"{l.KvHeads}", $"{l.Ffn}", $"{l.Params:N0}");
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    public static ModelInfo Describe(string dir)
    {
        var c = HfCheckpoint.LoadConfig(dir);
        HfCheckpoint.VerifyWeightHeaders(dir);
        // A tokenizer whose ids run past vocab_size is a broken model even if info never tokenizes: say so here too.
        if (File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "tokenizer.model")))
            Evaluator.Tokenization.TokenizerLoader.Load(dir);
        var layers = c.Layers.Select((l, i) => new LayerInfo(i, l.Keep, l.Heads, l.KvHeads, l.Ffn, c.LayerParams(l))).ToList();
        return new ModelInfo(Path.GetFullPath(dir), c.ModelType, HfCheckpoint.ModelHash(dir), c.TotalParams, c.NumHiddenLayers,
            c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize, c.VocabSize,
            c.MaxPositionEmbeddings, c.TieWordEmbeddings, c.IsHeterogeneous, c.ForwardFlopsPerToken(c.MaxPositionEmbeddings), layers);
    }
}
