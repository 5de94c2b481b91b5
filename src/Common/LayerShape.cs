namespace NasPrune.Common;

/// <summary>
/// The stored shape of one decoder layer: how many query heads and key/value heads its attention has and how
/// many FFN channels its MLP has. Zero heads means the attention block is absent (identity on the residual
/// stream); zero FFN channels means the MLP is absent; <see cref="Keep"/> = false drops the whole layer.
/// This is the unit structured pruning changes, so the model is built from a list of these.
/// </summary>
public sealed record LayerShape(bool Keep, int Heads, int KvHeads, int Ffn)
{
    public bool HasAttention => Keep && Heads > 0;
    public bool HasMlp => Keep && Ffn > 0;

    public static LayerShape Dropped { get; } = new(false, 0, 0, 0);
}
