using static TorchSharp.torch;

namespace NasPrune.Evaluator.Model;

/// <summary>
/// Keys and values of the tokens decoded so far, for incremental decoding: per layer with attention, two
/// preallocated tensors [batch, kv heads, capacity, head_dim] (rotary already applied to the keys), filled
/// front to back. Preallocating means a decoding step writes one slice instead of concatenating the history.
/// </summary>
public sealed class KvCache : IDisposable
{
    /// <summary>One attention layer's slots; null for a layer that attends to nothing.</summary>
    public sealed record Layer(Tensor Keys, Tensor Values);

    readonly Layer?[] layers;

    public int Capacity { get; }
    /// <summary>Tokens cached (the position of the next token).</summary>
    public int Length { get; internal set; }

    /// <summary>A cache for <paramref name="model"/>'s active shapes (what its forward pass computes now).</summary>
    public KvCache(LlamaForCausalLM model, int batch, int capacity)
    {
        var c = model.Config;
        if (capacity > c.MaxPositionEmbeddings)
            throw new ArgumentException($"cache of {capacity} positions exceeds max_position_embeddings {c.MaxPositionEmbeddings}");
        Capacity = capacity;
        var weight = model.model.embed_tokens.weight!;
        layers = model.Layers.Select(l =>
        {
            int kvHeads = l.ActiveShape.KvHeads;
            if (kvHeads == 0) return null;
            long[] shape = [batch, kvHeads, capacity, c.HeadDim];
            var k = zeros(shape, dtype: weight.dtype, device: weight.device).DetachFromDisposeScope();
            var v = zeros(shape, dtype: weight.dtype, device: weight.device).DetachFromDisposeScope();
            return new Layer(k, v);
        }).ToArray();
    }

    public Layer? this[int layer] => layers[layer];

    public void Dispose()
    {
        foreach (var l in layers)
        {
            l?.Keys.Dispose();
            l?.Values.Dispose();
        }
    }
}
