using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Runtime;

/// <summary>
/// Tensor arithmetic that never hands libtorch a Scalar the GC may free mid-call. TorchSharp passes a Scalar's native
/// handle to libtorch without keeping the Scalar alive, does not track Scalars in dispose scopes, and makes temporary
/// Scalars where a caller sees none: <c>a + b</c> and add/add_ without an alpha convert 1 to a Scalar inside the call
/// (subtraction of tensors makes none), <c>square()</c> is <c>pow(2)</c>, and <c>x + 0.5</c> converts 0.5. Any of them can be
/// finalized while libtorch reads it ("Unknown scalar type", "toFloat" check failures: seen in CI and in a campaign
/// after ~10⁵ forwards). The hot paths use these helpers, whose alpha lives as long as the process (a static field is
/// a GC root), or a `using` local Scalar for their own constants. ScalarLifetimeTests run the hot paths under a thread
/// that collects without pause.
/// </summary>
public static class KeptScalars
{
    /// <summary>1: the alpha of every add here, and any other 1 a call needs; made once, never freed.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a += s, in place (s must outlive the call: a `using` local or a static).</summary>
    public static Tensor PlusInPlace(this Tensor a, Scalar s) => a.add_(s, One);
}
