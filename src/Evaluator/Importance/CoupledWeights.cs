using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// The weights that belong to one prunable structure, summed over an element-wise quantity (w², |w·∂L/∂w|, ...):
/// a query head owns its head_dim rows of q_proj (and of its bias) and its head_dim columns of o_proj, plus a
/// 1/group share of its KV head's rows of k_proj and v_proj (and biases), since the KV head is shared by the
/// group and goes only when the whole group goes. An FFN channel owns its row of gate_proj and up_proj (and
/// biases) and its column of down_proj. The o_proj and down_proj biases belong to no structure.
/// </summary>
internal static class CoupledWeights
{
    /// <summary>Per query head, the sum of <paramref name="elementwise"/> over the head's coupled weights.</summary>
    public static double[] HeadSums(LlamaAttention attn, int headDim, int groupSize, Func<Tensor, Tensor> elementwise)
    {
        using var scope = NewDisposeScope();
        int heads = attn.StoredHeads, kvHeads = heads / groupSize;
        var sums = RowBlocks(elementwise(attn.q_proj.weight!), heads);
        Add(sums, ColumnBlocks(elementwise(attn.o_proj.weight!), heads));
        var kv = RowBlocks(elementwise(attn.k_proj.weight!), kvHeads);
        Add(kv, RowBlocks(elementwise(attn.v_proj.weight!), kvHeads));
        if (attn.q_proj.bias is { } qb) Add(sums, RowBlocks(elementwise(qb), heads));
        if (attn.k_proj.bias is { } kb) Add(kv, RowBlocks(elementwise(kb), kvHeads));
        if (attn.v_proj.bias is { } vb) Add(kv, RowBlocks(elementwise(vb), kvHeads));
        for (int h = 0; h < heads; h++) sums[h] += kv[h / groupSize] / groupSize;
        return sums;
    }

    /// <summary>Per FFN channel, the sum of <paramref name="elementwise"/> over the channel's coupled weights.</summary>
    public static double[] ChannelSums(LlamaMlp mlp, Func<Tensor, Tensor> elementwise)
    {
        using var scope = NewDisposeScope();
        int channels = mlp.StoredChannels;
        var sums = RowBlocks(elementwise(mlp.gate_proj.weight!), channels);
        Add(sums, RowBlocks(elementwise(mlp.up_proj.weight!), channels));
        Add(sums, ColumnBlocks(elementwise(mlp.down_proj.weight!), channels));
        if (mlp.gate_proj.bias is { } gb) Add(sums, RowBlocks(elementwise(gb), channels));
        if (mlp.up_proj.bias is { } ub) Add(sums, RowBlocks(elementwise(ub), channels));
        return sums;
    }

    /// <summary>Per head, ||W_o[:, head columns]||_F: the size of what the head writes into the residual stream.</summary>
    public static double[] OutputColumnNorms(LlamaAttention attn) =>
        ColumnBlocks(Squared(attn.o_proj.weight!.detach()), attn.StoredHeads).Select(Math.Sqrt).ToArray();

    /// <summary>Per channel, ||W_down[:, c]||.</summary>
    public static double[] DownColumnNorms(LlamaMlp mlp) =>
        ColumnBlocks(Squared(mlp.down_proj.weight!.detach()), mlp.StoredChannels).Select(Math.Sqrt).ToArray();

    /// <summary>Sums of a [blocks·k, ...] tensor (or [blocks·k] vector) over each of its <paramref name="blocks"/> row blocks.</summary>
    public static double[] RowBlocks(Tensor t, int blocks)
    {
        using var scope = NewDisposeScope();
        return CalibrationPass.ToDoubles(t.to_type(ScalarType.Float64).reshape(blocks, -1).sum(1));
    }

    /// <summary>Sums of a [rows, blocks·k] tensor over each of its <paramref name="blocks"/> column blocks.</summary>
    /// <remarks>"dim: 0" is named on purpose: a bare literal 0 converts to ScalarType and picks sum's dtype overload.</remarks>
    public static double[] ColumnBlocks(Tensor t, int blocks)
    {
        using var scope = NewDisposeScope();
        return CalibrationPass.ToDoubles(t.to_type(ScalarType.Float64).reshape(t.shape[0], blocks, -1).sum(2).sum(dim: 0));
    }

    /// <summary>w², elementwise, as w · w: TorchSharp's square() is pow(2), whose implicit Scalar may be finalized mid-call (see KeptScalars).</summary>
    public static Tensor Squared(Tensor w) => w * w;

    public static double Mean(double[] values) => values.Length == 0 ? 0 : values.Average();

    static void Add(double[] into, double[] values)
    {
        for (int i = 0; i < into.Length; i++) into[i] += values[i];
    }
}
