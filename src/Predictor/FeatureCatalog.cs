namespace NasPrune.Predictor;

/// <summary>One input column of the predictor and what it means (one line; printed by <c>predictor features</c>).</summary>
public sealed record FeatureInfo(string Name, string Description, bool DepthInvariant);

/// <summary>
/// The feature layout for a base model: names and one-line meanings, in vector order. Depth-invariant features come
/// first (the same names for any layer count, so a predictor trained on one family reads another family's
/// candidates); per-layer features follow only when asked for (same-family use).
/// </summary>
public static class FeatureCatalog
{
    public static IReadOnlyList<FeatureInfo> Describe(int layers, int depthGrid, bool hasProfile, bool perLayer)
    {
        var f = new List<FeatureInfo>
        {
            new("param_ratio", "kept share of the base model's parameters (embeddings included)", true),
            new("flops_ratio", "kept share of forward FLOPs per token at the model's full context", true),
            new("head_mean", "mean over layers of the kept share of query heads (dropped layer = 0)", true),
            new("ffn_mean", "mean over layers of the kept share of FFN channels", true),
            new("head_min", "smallest per-layer kept share of heads", true),
            new("ffn_min", "smallest per-layer kept share of FFN channels", true),
            new("head_std", "spread (standard deviation) of the per-layer head keep shares: 0 for a uniform cut", true),
            new("ffn_std", "spread of the per-layer FFN keep shares", true),
            new("attn_removed_share", "share of layers whose attention block is removed (no heads kept)", true),
            new("mlp_removed_share", "share of layers whose MLP is removed (no channels kept)", true),
            new("layer_dropped_share", "share of layers dropped entirely", true),
        };
        for (int g = 0; g < depthGrid; g++)
            f.Add(new($"head_depth{g}", $"kept head share averaged over relative depth [{g}/{depthGrid}, {g + 1}/{depthGrid})", true));
        for (int g = 0; g < depthGrid; g++)
            f.Add(new($"ffn_depth{g}", $"kept FFN share averaged over relative depth [{g}/{depthGrid}, {g + 1}/{depthGrid})", true));
        if (hasProfile)
        {
            f.Add(new("removed_head_importance", "zero-cost proxy: share of all head importance the candidate removes", true));
            f.Add(new("removed_ffn_importance", "zero-cost proxy: share of all FFN channel importance the candidate removes", true));
            f.Add(new("removed_layer_importance", "zero-cost proxy: share of the summed layer scores of dropped layers", true));
            for (int g = 0; g < depthGrid; g++)
                f.Add(new($"removed_head_imp_depth{g}", $"share of each layer's head importance removed, averaged over relative depth cell {g}/{depthGrid}", true));
            for (int g = 0; g < depthGrid; g++)
                f.Add(new($"removed_ffn_imp_depth{g}", $"share of each layer's FFN importance removed, averaged over relative depth cell {g}/{depthGrid}", true));
        }
        if (perLayer)
        {
            for (int i = 0; i < layers; i++) f.Add(new($"head_layer{i}", $"kept head share of layer {i}", false));
            for (int i = 0; i < layers; i++) f.Add(new($"ffn_layer{i}", $"kept FFN share of layer {i}", false));
            if (hasProfile)
            {
                for (int i = 0; i < layers; i++) f.Add(new($"removed_head_imp_layer{i}", $"share of layer {i}'s head importance removed", false));
                for (int i = 0; i < layers; i++) f.Add(new($"removed_ffn_imp_layer{i}", $"share of layer {i}'s FFN importance removed", false));
            }
        }
        return f;
    }
}
