namespace NasPrune.Common;

/// <summary>
/// The MLP activations of config.json's <c>hidden_act</c> that NasPrune computes, under Hugging Face's ACT2FN
/// names. The name is kept as written (gelu_new stays gelu_new) so a saved config.json reads back identically.
/// </summary>
public static class HiddenActivation
{
    public const string Default = "silu";

    /// <summary>
    /// silu and swish are the same function in ACT2FN; gelu is the exact erf form; gelu_pytorch_tanh and gelu_new
    /// are both the tanh approximation (NewGELUActivation writes out the formula PyTorch's approximate="tanh" uses).
    /// </summary>
    public static readonly string[] Supported = ["silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new", "relu"];

    public static string Check(string name, string source) => Supported.Contains(name)
        ? name
        : throw new UserError($"{source}: field 'hidden_act' is '{name}', which NasPrune does not compute (supported: {string.Join(", ", Supported)})");
}
