using NasPrune.Common;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Recovery;

namespace NasPrune.Evaluator.Pruning;

/// <summary>
/// Which recovery runs after pruning: none, least-squares reconstruction of the output projections ("ls"),
/// LoRA fine-tuning ("lora"), or both in that order ("ls+lora").
/// </summary>
public sealed record RecoveryPlan(bool LeastSquares, bool Lora, ReconstructionOptions Reconstruction, LoraOptions LoraOptions, string? CorpusDir)
{
    public static readonly string[] Names = ["none", "ls", "lora", "ls+lora"];

    public string Name => (LeastSquares, Lora) switch
    {
        (false, false) => "none",
        (true, false) => "ls",
        (false, true) => "lora",
        _ => "ls+lora",
    };

    /// <summary>No recovery: the pruned model is used as extracted.</summary>
    public bool IsNone => !LeastSquares && !Lora;

    public static RecoveryPlan Parse(string name, ReconstructionOptions reconstruction, LoraOptions lora, string? corpusDir) =>
        name.ToLowerInvariant() switch
        {
            "none" => new(false, false, reconstruction, lora, corpusDir),
            "ls" => new(true, false, reconstruction, lora, corpusDir),
            "lora" => new(false, true, reconstruction, lora, corpusDir),
            "ls+lora" => new(true, true, reconstruction, lora, corpusDir),
            _ => throw new UserError($"--recover {name}: expected one of {string.Join(", ", Names)}"),
        };

    /// <summary>Runs the plan on a pruned model extracted from <paramref name="prepared"/> (in place).</summary>
    public void Run(PreparedModel prepared, LlamaForCausalLM pruned, Action<string>? log = null)
    {
        if (LeastSquares)
        {
            prepared.Reset(); // the dense target is the full reordered model
            var fits = LeastSquaresReconstruction.Run(prepared.Model, pruned, prepared.Calibration.Windows, Reconstruction);
            log?.Invoke($"least-squares reconstruction: {fits.Count} projections, mean relative error {fits.Average(f => f.ErrorBefore):G3} -> {fits.Average(f => f.ErrorAfter):G3}");
        }
        if (Lora)
        {
            string corpus = CorpusDir ?? throw new UserError("LoRA recovery needs a training text directory (--corpus)");
            var curve = LoraRecovery.Run(pruned, prepared.CorpusTokens(corpus), LoraOptions);
            if (curve.Count > 0) log?.Invoke($"LoRA: {curve.Count} steps, loss {curve[0].Loss:F3} -> {curve[^1].Loss:F3}");
        }
    }
}
