using NasPrune.Common;

namespace NasPrune.Evaluator.Recovery;

/// <summary>Settings of <see cref="LeastSquaresReconstruction"/>.</summary>
public sealed record ReconstructionOptions
{
    /// <summary>
    /// Ridge strength relative to the inputs' scale: λ = Ridge · trace(XᵀX) / n, n the projection's input width,
    /// i.e. a fraction of the mean input energy per channel. 1% is the dampening GPTQ and SparseGPT add to the
    /// same matrix; it keeps the solve well conditioned when calibration tokens are few or channels correlated.
    /// </summary>
    public double Ridge { get; init; } = 1e-2;

    /// <summary>Calibration windows per forward pass (memory only; the result does not depend on it).</summary>
    public int BatchSize { get; init; } = 8;

    public void Validate()
    {
        if (!(Ridge > 0) || double.IsInfinity(Ridge))
            throw new UserError($"reconstruction option {nameof(Ridge)} = {Ridge}: must be a positive number");
        if (BatchSize < 1)
            throw new UserError($"reconstruction option {nameof(BatchSize)} = {BatchSize}: must be at least 1");
    }
}
