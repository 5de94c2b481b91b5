using NasPrune.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Model;

/// <summary>
/// Turns a pruning candidate into a physically smaller model. Kept heads and channels are always a prefix of an
/// importance-sorted (reordered) layer, so every weight of the small model is a prefix slice of the full one:
/// q/k/v rows (and their biases), o_proj columns, gate/up rows (and biases), down_proj columns; embeddings, norms,
/// o_proj/down_proj biases and lm_head are copied whole. The result computes exactly what the full model computes
/// with <see cref="LlamaForCausalLM.SetActiveShapes"/> set to the same shapes, and saves as a normal checkpoint.
/// </summary>
public static class PhysicalPruning
{
    /// <summary>The model that keeps <paramref name="arch"/>'s prefix of every layer of <paramref name="reorderedFull"/>.</summary>
    public static LlamaForCausalLM Extract(LlamaForCausalLM reorderedFull, Architecture arch) =>
        Extract(reorderedFull, arch.ToShapes(reorderedFull.Config));

    /// <summary>The model that keeps what <paramref name="model"/>'s forward pass uses now (its active shapes).</summary>
    public static LlamaForCausalLM ExtractActive(LlamaForCausalLM model) =>
        Extract(model, model.Layers.Select(l => l.ActiveShape).ToArray());

    /// <summary>The model of per-layer <paramref name="shapes"/>, each at most the source layer's stored shape.</summary>
    public static LlamaForCausalLM Extract(LlamaForCausalLM source, IReadOnlyList<LayerShape> shapes)
    {
        var config = source.Config;
        if (shapes.Count != config.NumHiddenLayers)
            throw new UserError($"architecture has {shapes.Count} layers, the model {config.NumHiddenLayers}");
        for (int i = 0; i < shapes.Count; i++)
        {
            var want = shapes[i];
            var stored = config.Layers[i];
            // A stored layer without attention (or MLP) has no weights to slice, whatever its counts say.
            if ((want.HasAttention && (!stored.HasAttention || want.Heads > stored.Heads)) ||
                (want.HasMlp && (!stored.HasMlp || want.Ffn > stored.Ffn)))
                throw new UserError($"layer {i}: asks for {want.Heads} heads / {want.Ffn} FFN channels, the model stores {stored.Heads} / {stored.Ffn}");
        }

        var weights = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var first = weights.Values.First();
        var pruned = new LlamaForCausalLM(config.WithLayers(shapes));
        pruned.to(first.dtype);
        pruned.to(first.device);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, target) in pruned.named_parameters())
        {
            // Every dimension of a pruned tensor is either kept whole or cut to a prefix, so narrowing each
            // dimension to the target's size is the slice for q/k/v rows, o/down columns and gate/up rows alike.
            Tensor slice = weights[name];
            for (int d = 0; d < target.dim(); d++)
                if (slice.shape[d] != target.shape[d]) slice = slice.narrow(d, 0, target.shape[d]);
            target.copy_(slice);
        }
        pruned.train(source.training);
        return pruned;
    }
}
