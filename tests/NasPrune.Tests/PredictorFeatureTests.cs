using NasPrune.Common;
using NasPrune.Predictor;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The predictor's features: invariant to the layer count where claimed, consistent with the shared budget arithmetic.</summary>
public sealed class PredictorFeatureTests
{
    static ModelConfig Config(int layers) => ModelConfig.Uniform(vocab: 512, hidden: 64, layers: layers, heads: 8, kvHeads: 4, ffn: 160, maxPositions: 64);

    /// <summary>A profile whose per-layer scores follow a function of relative depth, so layer i of an L-layer model
    /// and its two copies in a 2L-layer model carry the same scores.</summary>
    static ImportanceProfile Profile(ModelConfig c, int repeat) => new("test", "h", c.GroupSize,
        c.Layers.Select((l, i) => Enumerable.Range(0, l.Heads).Select(k => (1.0 + i / repeat) / (1 + k)).ToArray()).ToArray(),
        c.Layers.Select((l, i) => Enumerable.Range(0, l.Ffn).Select(k => (2.0 + i / repeat) / (1 + 0.1 * k)).ToArray()).ToArray(),
        c.Layers.Select((_, i) => 1.0 + i / repeat).ToArray());

    static readonly (int Heads, int Ffn)[] Cut = [(8, 160), (4, 100), (8, 60), (0, 140)];

    static Architecture Repeated(int repeat) => new("h", Cut.SelectMany(l => Enumerable.Repeat(new LayerKeep(true, l.Heads, l.Ffn), repeat)).ToArray());

    /// <summary>
    /// Repeating every layer (4 → 8 layers, same relative-depth profile) leaves every resampled and share feature
    /// unchanged. param_ratio and flops_ratio are excluded: the embeddings' share of the total differs with depth.
    /// </summary>
    [Fact]
    public void DepthInvariantFeaturesDoNotDependOnTheLayerCount()
    {
        var four = new ArchitectureFeaturizer(Config(4), Profile(Config(4), 1), depthGrid: 8, perLayer: false);
        var eight = new ArchitectureFeaturizer(Config(8), Profile(Config(8), 2), depthGrid: 8, perLayer: false);
        Assert.Equal(four.Features, eight.Features);
        var a = four.Featurize(Repeated(1));
        var b = eight.Featurize(Repeated(2));
        for (int k = 0; k < four.Count; k++)
        {
            if (four.Features[k].Name is "param_ratio" or "flops_ratio") continue;
            Assert.True(Math.Abs(a[k] - b[k]) < 1e-6, $"{four.Features[k].Name}: {a[k]} with 4 layers, {b[k]} with 8");
        }
    }

    [Fact]
    public void UniformCutGivesTheSameGridForAnyLayerCount()
    {
        foreach (int layers in new[] { 3, 6, 8, 13 })
        {
            var f = new ArchitectureFeaturizer(Config(layers), null, depthGrid: 8, perLayer: false);
            var v = f.Featurize(new Architecture("h", Enumerable.Repeat(new LayerKeep(true, 4, 80), layers).ToArray()));
            for (int g = 0; g < 8; g++)
            {
                Assert.Equal(0.5f, v[f.Features.ToList().FindIndex(x => x.Name == $"head_depth{g}")], 5);
                Assert.Equal(0.5f, v[f.Features.ToList().FindIndex(x => x.Name == $"ffn_depth{g}")], 5);
            }
        }
    }

    [Fact]
    public void PerLayerFeaturesFollowTheLayerCountAndDepthInvariantOnesDoNot()
    {
        var six = new ArchitectureFeaturizer(Config(6), Profile(Config(6), 1), 8, perLayer: true);
        var eight = new ArchitectureFeaturizer(Config(8), Profile(Config(8), 1), 8, perLayer: true);
        Assert.Equal(six.Features.Where(f => f.DepthInvariant), eight.Features.Where(f => f.DepthInvariant));
        Assert.Equal(4 * 6, six.Features.Count(f => !f.DepthInvariant));
        Assert.Equal(4 * 8, eight.Features.Count(f => !f.DepthInvariant));
        Assert.Equal(six.Count, six.Features.Select(f => f.Name).Distinct().Count());
    }

    /// <summary>The precomputed cost tables and prefix sums agree with the shared arithmetic (ModelConfig, ImportanceProfile).</summary>
    [Fact]
    public void BudgetAndProxyFeaturesMatchTheSharedArithmetic()
    {
        var c = Config(4);
        var profile = Profile(c, 1);
        var f = new ArchitectureFeaturizer(c, profile, 8, perLayer: true);
        var a = new Architecture("h", [new LayerKeep(true, 8, 160), new LayerKeep(true, 4, 100), LayerKeep.Dropped, new LayerKeep(true, 0, 140)]);
        var v = f.Featurize(a);
        float Get(string name) => v[f.Features.ToList().FindIndex(x => x.Name == name)];
        Assert.Equal(a.ParamRatio(c), Get("param_ratio"), 5);
        Assert.Equal(a.ForwardFlopsPerToken(c, c.MaxPositionEmbeddings) / c.ForwardFlopsPerToken(c.MaxPositionEmbeddings), Get("flops_ratio"), 5);
        Assert.Equal(profile.RemovedHeadShare(a), Get("removed_head_importance"), 5);
        Assert.Equal(profile.RemovedChannelShare(a), Get("removed_ffn_importance"), 5);
        Assert.Equal(profile.RemovedLayerShare(a), Get("removed_layer_importance"), 5);
        var perLayer = profile.RemovedPerLayer(a, heads: false);
        for (int i = 0; i < 4; i++) Assert.Equal(perLayer[i], Get($"removed_ffn_imp_layer{i}"), 5);
        Assert.Equal(0.5f, Get("head_layer1"));
        Assert.Equal(0.5f, Get("attn_removed_share")); // layer 3 keeps no heads, dropped layer 2 has no attention either
        Assert.Equal(0.25f, Get("layer_dropped_share"));
    }

    [Fact]
    public void ArchitectureOfAnotherShapeIsAUserError()
    {
        var f = new ArchitectureFeaturizer(Config(4), null, 8, perLayer: true);
        var e = Assert.Throws<UserError>(() => f.Featurize(new Architecture("h", [new LayerKeep(true, 8, 160)])));
        Assert.Contains("1 layers", e.Message);
        Assert.Throws<UserError>(() => f.Featurize(new Architecture("h", Enumerable.Repeat(new LayerKeep(true, 3, 160), 4).ToArray())));
    }
}
