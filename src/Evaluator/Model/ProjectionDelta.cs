using static TorchSharp.torch;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Model;

/// <summary>
/// An extra term added to a projection's output inside the forward pass: y = x·Wᵀ + b + delta(x), with x the
/// projection's input over its active columns; the result must have y's shape. LoRA recovery trains such terms
/// and then merges them into W. A delta is a plain delegate, not a registered module, so whatever parameters it
/// holds never enter the model's state dict or checkpoint.
/// </summary>
public delegate Tensor ProjectionDelta(Tensor input);

static class ProjectionDeltaLookup
{
    /// <summary>
    /// <paramref name="output"/> plus the delta registered under <paramref name="name"/>, if any. A null table is
    /// the common case and costs one comparison.
    /// </summary>
    public static Tensor AddTo(this IReadOnlyDictionary<string, ProjectionDelta>? deltas, Tensor output, string name, Tensor input) =>
        deltas is not null && deltas.TryGetValue(name, out var delta) ? output.Plus(delta(input)) : output;
}
