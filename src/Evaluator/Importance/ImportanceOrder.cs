using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// Sorts every layer's heads and FFN channels by importance, most important first, by permuting the stored
/// weights in place. A permutation preserves the function exactly: heads are independent given their KV head
/// (RoPE acts within a head), FFN channels are independent, and o_proj / down_proj sum over them in any order.
/// After it, a candidate that keeps a prefix of each layer (<see cref="LlamaForCausalLM.SetActiveShapes"/>) keeps
/// that layer's most important structures.
/// </summary>
public static class ImportanceOrder
{
    /// <summary>
    /// Reorders <paramref name="model"/> by <paramref name="scores"/> and returns the scores reordered to match
    /// (each layer's group scores and channel scores then descend). The returned scores keep the original
    /// ModelHash: they describe the same function, in the order the model now stores it.
    /// </summary>
    public static ImportanceScores Reorder(LlamaForCausalLM model, ImportanceScores scores)
    {
        var plan = Plan(model.Config, scores);
        Apply(model, plan);
        return Permute(scores, plan);
    }

    /// <summary>
    /// The sorting permutation of every layer: GQA groups by descending group score, the query heads inside a group
    /// by descending head score (they share the KV head, so their order is free), channels by descending score.
    /// Ties keep the original order, so the plan is deterministic.
    /// </summary>
    public static LayerPermutation[] Plan(ModelConfig config, ImportanceScores scores)
    {
        Check(config, scores);
        int g = config.GroupSize;
        return Enumerable.Range(0, config.NumHiddenLayers).Select(i =>
        {
            var heads = scores.Heads[i];
            var groupOrder = Descending(scores.GroupScores(i, g));
            var headOrder = groupOrder.SelectMany(group =>
                Descending(heads.Skip(group * g).Take(g).ToArray()).Select(h => group * g + h)).ToArray();
            return new LayerPermutation(headOrder, Descending(scores.Channels[i]));
        }).ToArray();
    }

    /// <summary>Permutes the stored weights of every layer in place (rows and columns move; parameters stay the same objects).</summary>
    public static void Apply(LlamaForCausalLM model, IReadOnlyList<LayerPermutation> plan)
    {
        var layers = model.Layers;
        if (plan.Count != layers.Count) throw new ArgumentException($"plan has {plan.Count} layers, the model {layers.Count}");
        int headDim = model.Config.HeadDim, groupSize = model.Config.GroupSize;
        using var _ = no_grad();
        for (int i = 0; i < layers.Count; i++)
        {
            var p = plan[i];
            if (p.IsIdentity) continue;
            if (layers[i].self_attn is { } attn)
            {
                var kv = p.KvHeads(groupSize);
                PermuteRows(attn.q_proj, p.Heads, headDim);
                PermuteRows(attn.k_proj, kv, headDim);
                PermuteRows(attn.v_proj, kv, headDim);
                PermuteColumns(attn.o_proj, p.Heads, headDim);
            }
            if (layers[i].mlp is { } mlp)
            {
                PermuteRows(mlp.gate_proj, p.Channels, 1);
                PermuteRows(mlp.up_proj, p.Channels, 1);
                PermuteColumns(mlp.down_proj, p.Channels, 1);
            }
        }
    }

    /// <summary>The scores in the order a model reordered by <paramref name="plan"/> stores its structures.</summary>
    public static ImportanceScores Permute(ImportanceScores scores, IReadOnlyList<LayerPermutation> plan) => scores with
    {
        Heads = scores.Heads.Select((h, i) => plan[i].Heads.Select(old => h[old]).ToArray()).ToArray(),
        Channels = scores.Channels.Select((c, i) => plan[i].Channels.Select(old => c[old]).ToArray()).ToArray(),
    };

    static int[] Descending(double[] values) =>
        Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ToArray(); // OrderBy is stable

    /// <summary>Output rows in blocks of <paramref name="block"/> (a head's head_dim rows), the bias with them.</summary>
    static void PermuteRows(Linear linear, int[] order, int block)
    {
        using var scope = NewDisposeScope();
        var index = Index(order, block, linear.weight!.device);
        linear.weight!.copy_(linear.weight.index_select(0, index));
        linear.bias?.copy_(linear.bias.index_select(0, index));
    }

    /// <summary>Input columns in blocks of <paramref name="block"/>; the bias is per output, so it stays.</summary>
    static void PermuteColumns(Linear linear, int[] order, int block)
    {
        using var scope = NewDisposeScope();
        var index = Index(order, block, linear.weight!.device);
        linear.weight!.copy_(linear.weight.index_select(1, index));
    }

    /// <summary>Element indices of whole blocks taken in <paramref name="order"/>.</summary>
    static Tensor Index(int[] order, int block, Device device) =>
        tensor(order.SelectMany(b => Enumerable.Range(b * block, block)).Select(x => (long)x).ToArray()).to(device);

    static void Check(ModelConfig config, ImportanceScores s)
    {
        string source = $"importance scores ({s.Criterion}, model {s.ModelHash})";
        if (s.Heads.Length != config.NumHiddenLayers || s.Channels.Length != config.NumHiddenLayers)
            throw new UserError($"{source}: scores for {s.Heads.Length} layers, the model has {config.NumHiddenLayers}");
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            var shape = config.Layers[i];
            int heads = shape.HasAttention ? shape.Heads : 0, ffn = shape.HasMlp ? shape.Ffn : 0;
            if (s.Heads[i].Length != heads || s.Channels[i].Length != ffn)
                throw new UserError($"{source}: layer {i} has {s.Heads[i].Length} head and {s.Channels[i].Length} channel scores, the model {heads} heads and {ffn} channels");
            if (s.Heads[i].Concat(s.Channels[i]).Any(double.IsNaN))
                throw new UserError($"{source}: layer {i} has a NaN score");
        }
    }
}
