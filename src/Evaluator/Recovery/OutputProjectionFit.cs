using TorchSharp;
using static TorchSharp.torch;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Recovery;

/// <summary>
/// The normal equations of refitting one output projection W [out, in] on calibration tokens: accumulates
/// G = XᵀX [in, in], C = XᵀY [in, out] and ‖Y‖² in float64 over batches of inputs X and targets Y, then solves
///
///     W' = argmin ‖X·W'ᵀ − Y‖² + λ‖W' − W₀‖²   ⇔   (G + λI)·W'ᵀ = C + λ·W₀ᵀ
///
/// where W₀ is the projection's current (pruned) weight. The ridge pulls toward W₀ rather than toward zero: input
/// directions the calibration tokens do not excite keep their original weights instead of collapsing, and the
/// refit can never be worse on the calibration data than keeping W₀ (W₀ is a feasible point of the objective).
/// </summary>
sealed class OutputProjectionFit : IDisposable
{
    readonly Tensor gram, cross;
    double targetSquares;
    public long Tokens { get; private set; }
    public long InFeatures { get; }

    public OutputProjectionFit(long inFeatures, long outFeatures, Device device)
    {
        InFeatures = inFeatures;
        gram = zeros([inFeatures, inFeatures], ScalarType.Float64, device);
        cross = zeros([inFeatures, outFeatures], ScalarType.Float64, device);
    }

    /// <summary>Adds tokens: inputs x [..., in] and targets y [..., out].</summary>
    public void Add(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var x64 = x.reshape(-1, InFeatures).to(ScalarType.Float64, gram.device);
        var y64 = y.reshape(-1, cross.shape[1]).to(ScalarType.Float64, gram.device);
        gram.PlusInPlace(x64.t().mm(x64));
        cross.PlusInPlace(x64.t().mm(y64));
        targetSquares += (y64 * y64).sum().item<double>();
        Tokens += x64.shape[0];
    }

    /// <summary>
    /// The refitted weight [out, in] (in <paramref name="current"/>'s dtype) and the relative errors of the current and
    /// the refitted weights. λ = <paramref name="relativeRidge"/> · trace(G) / in.
    /// </summary>
    public (Tensor Weight, double Lambda, double ErrorBefore, double ErrorAfter) Solve(Tensor current, double relativeRidge)
    {
        using var scope = NewDisposeScope();
        var w0T = current.to(ScalarType.Float64, gram.device).t();
        double meanEnergy = gram.diagonal().mean().item<double>();
        // All-zero inputs (a channel set that never fires) leave G = 0; any λ > 0 then returns W₀ itself.
        double lambda = meanEnergy > 0 ? relativeRidge * meanEnergy : 1.0;
        using var ridge = lambda.ToScalar(); // alive through the calls (see KeptScalars)
        var system = gram.Plus(eye(InFeatures, dtype: ScalarType.Float64, device: gram.device).mul(ridge));
        var solvedT = linalg.solve(system, cross.Plus(w0T.mul(ridge)));
        double before = RelativeError(w0T), after = RelativeError(solvedT);
        var weight = solvedT.t().to(current.dtype, current.device).contiguous();
        return (weight.MoveToOuterDisposeScope(), lambda, before, after);
    }

    /// <summary>‖X·W − Y‖² / ‖Y‖² for Wᵀ = <paramref name="wT"/> [in, out], from the accumulated moments: tr(WᵀGW) − 2·tr(WᵀC) + ‖Y‖².</summary>
    double RelativeError(Tensor wT)
    {
        using var scope = NewDisposeScope();
        double squares = (gram.mm(wT) * wT).sum().item<double>() - 2 * (cross * wT).sum().item<double>() + targetSquares;
        // Rounding can take an exact fit a hair below zero.
        return Math.Max(0, squares) / (targetSquares > 0 ? targetSquares : 1);
    }

    public void Dispose()
    {
        gram.Dispose();
        cross.Dispose();
    }
}
