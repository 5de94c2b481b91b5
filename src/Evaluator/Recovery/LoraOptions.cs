using NasPrune.Common;

namespace NasPrune.Evaluator.Recovery;

/// <summary>
/// Settings of <see cref="LoraRecovery"/>. The defaults follow LLM-Pruner's recovery stage (post_training.py with
/// the flags of its README: <c>--lora_r 8 --learning_rate 1e-4 --batch_size 64 --num_epochs 2</c>, its defaults
/// lora_alpha 16, lora_dropout 0.05, cutoff_len 256, adapters on q/k/v/o/gate/up/down, and Hugging Face Trainer's
/// AdamW with betas (0.9, 0.999), eps 1e-8, no weight decay, 100 warmup steps, linear decay, gradient clipping
/// at norm 1). Two things are scaled to a CPU budget: the batch (8 windows, not 64 sequences) and the length of the
/// run (<see cref="Steps"/>; LLM-Pruner's 2 epochs of Alpaca are about 1,550 steps of 64).
/// LLM-Pruner trains on instruction data (Alpaca); here the stream is general text, e.g. the training corpus.
/// </summary>
public sealed record LoraOptions
{
    /// <summary>r, the rank of each adapter ΔW = (Alpha / Rank) · B·A.</summary>
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    /// <summary>Dropout on the adapters' input during training (PEFT's lora_dropout); the base path has none.</summary>
    public double Dropout { get; init; } = 0.05;
    public int Steps { get; init; } = 500;
    /// <summary>Windows per step.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Tokens per window (LLM-Pruner's cutoff_len); at most the model's max_position_embeddings.</summary>
    public int SeqLen { get; init; } = 256;
    /// <summary>Peak learning rate, reached after <see cref="WarmupSteps"/> and decayed linearly to zero at <see cref="Steps"/>.</summary>
    public double LearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0;
    /// <summary>Global gradient-norm clip over the adapter parameters (0 = none).</summary>
    public double GradClip { get; init; } = 1.0;
    /// <summary>Seeds the adapters' initialisation, the window positions and dropout.</summary>
    public long Seed { get; init; } = 1234;

    public double Scale => Alpha / Rank;

    /// <summary>lr·(step+1)/warmup during warmup, then lr·(Steps − step)/(Steps − warmup): Hugging Face's linear schedule.</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        return LearningRate * (Steps - step) / Math.Max(1, Steps - WarmupSteps);
    }

    public void Validate()
    {
        if (Rank < 1) throw Invalid(nameof(Rank), Rank, "must be at least 1");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw Invalid(nameof(Alpha), Alpha, "must be a positive number");
        if (!(Dropout >= 0 && Dropout < 1)) throw Invalid(nameof(Dropout), Dropout, "must be in [0, 1)");
        if (Steps < 0) throw Invalid(nameof(Steps), Steps, "must not be negative");
        if (BatchSize < 1) throw Invalid(nameof(BatchSize), BatchSize, "must be at least 1");
        if (SeqLen < 2) throw Invalid(nameof(SeqLen), SeqLen, "must be at least 2 (one predicted token)");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw Invalid(nameof(LearningRate), LearningRate, "must be a positive number");
        if (WarmupSteps < 0) throw Invalid(nameof(WarmupSteps), WarmupSteps, "must not be negative");
        if (!(WeightDecay >= 0)) throw Invalid(nameof(WeightDecay), WeightDecay, "must not be negative");
        if (!(GradClip >= 0)) throw Invalid(nameof(GradClip), GradClip, "must not be negative");
    }

    static UserError Invalid(string field, object value, string rule) => new($"LoRA option {field} = {value}: {rule}");
}
