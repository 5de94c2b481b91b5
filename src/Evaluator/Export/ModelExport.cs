using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Pruning;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// Writes a pruned model as a finished folder: the weights (Hugging Face checkpoint and tokenizer, or one GGUF file),
/// architecture.json and any report files, all built in a staging folder and published with one rename, so a crash
/// never leaves a half-written model where a finished one is expected.
/// </summary>
public static class ModelExport
{
    public static void Write(PreparedModel prepared, LlamaForCausalLM pruned, Architecture architecture, string outDir, ExportFormat format,
        IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        // OutputDirectory.Write removes its staging folder when a write fails (a full disk): no leftovers of ours.
        OutputDirectory.Write(outDir, staging =>
        {
            if (format.Gguf)
                GgufExport.Write(pruned, prepared.ModelDir, Path.Combine(staging, ExportFormat.GgufFileName), format.GgufType,
                    $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(prepared.ModelDir))} {architecture.Id}");
            else
            {
                HfCheckpoint.SaveModel(pruned, staging);
                HfCheckpoint.CopyTokenizer(prepared.ModelDir, staging);
            }
            architecture.Save(Path.Combine(staging, "architecture.json"));
            foreach (var (name, text) in extraFiles ?? new Dictionary<string, string>())
                AtomicFile.WriteAllText(Path.Combine(staging, name), text);
        });
    }
}
