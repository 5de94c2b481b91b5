using NasPrune.Common;
namespace NasPrune.Evaluator.Export;

/// <summary>The --format / --gguf-type choice of prune and export, checked before any work starts.</summary>
public sealed record ExportFormat(bool Gguf, GgufTensorType GgufType)
{
    public const string GgufFileName = "model.gguf";

    /// <summary>A Hugging Face checkpoint (safetensors, config.json with per-layer sizes, the tokenizer).</summary>
    public static readonly ExportFormat HuggingFace = new(false, GgufTensorType.F32);

    public static ExportFormat Parse(string format, string ggufType) => format.ToLowerInvariant() switch
    {
        "hf" => new ExportFormat(false, GgufExport.ParseType(ggufType)),
        "gguf" => new ExportFormat(true, GgufExport.ParseType(ggufType)),
        _ => throw new UserError($"--format {format}: expected hf or gguf"),
    };
}
