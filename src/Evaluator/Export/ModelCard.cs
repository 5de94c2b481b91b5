using System.Globalization;
using System.Text;
using NasPrune.Common;
using NasPrune.Evaluator.Pruning;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// The README.md written beside an exported model: what it was pruned from and how, its per-layer shape, what it
/// measured, and how to run it. Someone who receives only the folder can tell what it is and reproduce it.
/// </summary>
public static class ModelCard
{
    public static string Render(PruneReport r, ModelConfig pruned, ExportFormat format, IEnumerable<string> commandLine)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"# {Path.GetFileName(Path.TrimEndingDirectorySeparator(r.Model))}, pruned ({r.ArchitectureId})");
        sb.AppendLine();
        sb.AppendLine(inv, $"Structured pruning of `{r.Model}` (model hash `{r.ModelHash}`) by NasPrune: {r.Method} method, " +
                           $"`{r.Criterion}` importance ordering, recovery `{r.Recovery}`.");
        sb.AppendLine(inv, $"{r.Params:N0} of {r.BaseParams:N0} parameters ({r.ParamRatio:P1}); {r.FlopsPerToken / 1e6:F1} of " +
                           $"{r.BaseFlopsPerToken / 1e6:F1} MFLOP per token at {pruned.MaxPositionEmbeddings} tokens of context.");
        sb.AppendLine();
        sb.AppendLine("## Files");
        sb.AppendLine();
        if (format.Gguf)
        {
            var layout = GgufLayout.For(pruned);
            sb.AppendLine(inv, $"- `{ExportFormat.GgufFileName}`: GGUF v3, {format.GgufType} weights (norms F32), llama.cpp architecture `{layout.Arch}` ({layout.Why}), BPE tokenizer inside.");
            var zeroBlocks = layout.ZeroBlocks().Select(z => z.Text).ToList();
            if (zeroBlocks.Count > 0)
                sb.AppendLine(inv, $"  All-zero heads and FFN channels that llama.cpp's `{layout.Arch}` needs, contributing exactly nothing (the file is that much larger than the pruned model): layers {string.Join(", ", zeroBlocks)}.");
            if (layout.Note is { } note)
                sb.AppendLine(inv, $"  Note: {note}.");
        }
        else
            sb.AppendLine("- `config.json` (per-layer `block_configs`), `model.safetensors`, tokenizer files: a Hugging Face checkpoint NasPrune loads.");
        sb.AppendLine("- `architecture.json`: the kept heads and FFN channels per layer, relative to the base model; `prune.json`: the full result.");
        sb.AppendLine();
        sb.AppendLine("## Layers");
        sb.AppendLine();
        sb.AppendLine("| layer | query heads | key/value heads | FFN channels |");
        sb.AppendLine("| ---: | ---: | ---: | ---: |");
        for (int i = 0; i < pruned.NumHiddenLayers; i++)
        {
            var l = pruned.Layers[i];
            sb.AppendLine(l.Keep ? string.Create(inv, $"| {i} | {l.Heads} | {l.KvHeads} | {l.Ffn} |") : string.Create(inv, $"| {i} | dropped | | |"));
        }
        sb.AppendLine(inv, $"\nBase: {pruned.NumAttentionHeads} heads ({pruned.NumKeyValueHeads} key/value), {pruned.IntermediateSize} FFN channels, " +
                           $"hidden size {pruned.HiddenSize}, head size {pruned.HeadDim}, vocabulary {pruned.VocabSize}.");
        sb.AppendLine();
        sb.AppendLine("## Perplexity");
        sb.AppendLine();
        sb.AppendLine("NasPrune's protocol: non-overlapping windows of the full context, every position scored.");
        sb.AppendLine();
        sb.AppendLine("| task | split | windows | pruned | after recovery |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var before in r.Before)
        {
            var after = r.After?.FirstOrDefault(a => a.Task == before.Task && a.Split == before.Split);
            sb.AppendLine(inv, $"| {before.Task} | {before.Split} | {before.Windows} | {before.Ppl:F3} | {(after is null ? "" : after.Ppl.ToString("F3", inv))} |");
        }
        sb.AppendLine();
        sb.AppendLine("## Use");
        sb.AppendLine();
        sb.AppendLine("```sh");
        if (format.Gguf)
        {
            sb.AppendLine(inv, $"llama-cli -m {ExportFormat.GgufFileName} -p \"The history of\" -n 64");
            sb.AppendLine("# llama-perplexity scores only the second half of each window, so its figures differ from the table above");
        }
        else
        {
            sb.AppendLine("nasprune generate --model . --prompt \"The history of\" --max-new-tokens 64");
            sb.AppendLine("nasprune eval --model . --task wikitext2");
        }
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("Made with:");
        sb.AppendLine();
        sb.AppendLine("```sh");
        sb.AppendLine("nasprune " + string.Join(" ", commandLine.Select(a => a.Contains(' ') || a.Length == 0 ? $"\"{a}\"" : a)));
        sb.AppendLine("```");
        return sb.ToString();
    }
}
