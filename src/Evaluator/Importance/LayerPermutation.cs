namespace NasPrune.Evaluator.Importance;

/// <summary>
/// How one layer's structures are reordered: position i of the reordered layer holds the query head
/// <c>Heads[i]</c> and the FFN channel <c>Channels[i]</c> of the original. Heads move in whole GQA groups, so
/// the KV heads follow the group order.
/// </summary>
public sealed record LayerPermutation(int[] Heads, int[] Channels)
{
    /// <summary>Position g of the reordered layer holds the original KV head <c>KvHeads(groupSize)[g]</c>.</summary>
    public int[] KvHeads(int groupSize) =>
        Enumerable.Range(0, Heads.Length / groupSize).Select(g => Heads[g * groupSize] / groupSize).ToArray();

    public bool IsIdentity =>
        Heads.Select((h, i) => h == i).All(x => x) && Channels.Select((c, i) => c == i).All(x => x);
}
