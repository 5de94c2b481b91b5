using NasPrune.Common;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Model;

/// <summary>The tensor function of each <see cref="HiddenActivation"/> name, as Hugging Face's ACT2FN computes it.</summary>
public static class Activations
{
    public static Func<Tensor, Tensor> For(string hiddenAct) => hiddenAct switch
    {
        "silu" or "swish" => x => F.silu(x),
        "gelu" => x => F.gelu(x), // exact: x·Φ(x) with the erf
        "gelu_pytorch_tanh" or "gelu_new" => GeluTanh,
        "relu" => x => F.relu(x),
        _ => throw new UserError($"hidden_act '{hiddenAct}' is not computed (supported: {string.Join(", ", HiddenActivation.Supported)})"),
    };

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), NewGELUActivation's formula and PyTorch's approximate="tanh".</summary>
    static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Constants in `using` locals, ones and alphas kept: a temporary Scalar may be freed while libtorch reads it (see KeptScalars).
        using var cubic = 0.044715.ToScalar();
        using var slope = Math.Sqrt(2.0 / Math.PI).ToScalar();
        using var half = 0.5.ToScalar();
        var inner = x.Plus((x * x * x).mul(cubic)).mul(slope);
        return (x * inner.tanh().PlusInPlace(KeptScalars.One)).mul(half).MoveToOuterDisposeScope();
    }
}
