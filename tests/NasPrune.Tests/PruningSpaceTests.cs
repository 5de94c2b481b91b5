using NasPrune.Common;
using NasPrune.Evaluator.Model;
using Xunit;

namespace NasPrune.Tests;

public class PruningSpaceTests
{
    static readonly ModelConfig Gqa = ModelConfig.Uniform(vocab: 64, hidden: 32, layers: 4, heads: 8, kvHeads: 2, ffn: 96, maxPositions: 32);
    static readonly ModelConfig Mha = ModelConfig.Uniform(vocab: 64, hidden: 32, layers: 4, heads: 8, kvHeads: 8, ffn: 96, maxPositions: 32);

    [Fact]
    public void ArchitectureJsonRoundTripsAndIdIsStable()
    {
        var a = new Architecture("abc123", [new LayerKeep(true, 4, 48), LayerKeep.Dropped, new LayerKeep(true, 8, 0), new LayerKeep(true, 0, 96)]);
        var b = Architecture.FromJson(a.ToJsonString(), "test");
        Assert.Equal(a, b);
        Assert.Equal(a.Id, b.Id);
        Assert.Equal(12, a.Id.Length);
        // The id depends on the shapes only (same on every machine): SHA-256 of "1,4,48;0,0,0;1,8,0;1,0,96".
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("1,4,48;0,0,0;1,8,0;1,0,96"u8.ToArray()))[..12], a.Id);
        Assert.NotEqual(a.Id, new Architecture("abc123", [new LayerKeep(true, 4, 47), LayerKeep.Dropped, new LayerKeep(true, 8, 0), new LayerKeep(true, 0, 96)]).Id);
        // A layer that keeps nothing is the dropped layer.
        Assert.Equal(LayerKeep.Dropped, new Architecture("x", [new LayerKeep(true, 0, 0)]).Layers[0]);
    }

    [Fact]
    public void ArchitectureWithEditedIdIsRejected()
    {
        var json = new Architecture("h", [new LayerKeep(true, 4, 48)]).ToJsonString().Replace("\"heads\": 4", "\"heads\": 2");
        Assert.Contains("does not match", Assert.Throws<UserError>(() => Architecture.FromJson(json, "arch.json")).Message);
    }

    [Fact]
    public void ParamsAndFlopsEqualThoseOfThePhysicalModel()
    {
        var a = new Architecture("h", [new LayerKeep(true, 4, 48), LayerKeep.Dropped, new LayerKeep(true, 8, 12), new LayerKeep(true, 0, 96)]);
        using var m = new LlamaForCausalLM(a.ToConfig(Gqa));
        Assert.Equal(a.Params(Gqa), m.parameters().Sum(p => p.numel()));
        // FLOPs per token: 2 per weight multiply (embeddings excluded) + attention over (T+1)/2 keys.
        long matrixWeights = m.named_parameters().Where(p => p.parameter.dim() == 2 && !p.name.Contains("embed_tokens")).Sum(p => p.parameter.numel())
                             + (Gqa.TieWordEmbeddings ? Gqa.VocabSize * Gqa.HiddenSize : 0);
        double attention = (4 + 8) * Gqa.HeadDim * 2.0 * (32 + 1) / 2.0 * 2;
        Assert.Equal(2.0 * matrixWeights + attention, a.ForwardFlopsPerToken(Gqa, 32), 6);
    }

    [Fact]
    public void InvalidArchitecturesAreUserErrors()
    {
        Assert.Throws<UserError>(() => new Architecture("h", [new LayerKeep(true, 3, 48), .. Enumerable.Repeat(new LayerKeep(true, 8, 96), 3)]).Validate(Gqa)); // splits a group of 4
        Assert.Throws<UserError>(() => new Architecture("h", [new LayerKeep(true, 12, 48), .. Enumerable.Repeat(new LayerKeep(true, 8, 96), 3)]).Validate(Gqa)); // more heads
        Assert.Throws<UserError>(() => new Architecture("h", [new LayerKeep(true, 8, 97), .. Enumerable.Repeat(new LayerKeep(true, 8, 96), 3)]).Validate(Gqa)); // more channels
        Assert.Throws<UserError>(() => new Architecture("h", [new LayerKeep(true, 8, 96)]).Validate(Gqa)); // wrong layer count
        var space = new PruningSpace(Gqa, "h");
        Assert.Throws<UserError>(() => space.Uniform(0));
        Assert.Throws<UserError>(() => space.Uniform(1));
        Assert.Throws<UserError>(() => space.Uniform(-0.2));
        Assert.Throws<UserError>(() => space.Uniform(double.NaN));
        Assert.Throws<UserError>(() => space.Uniform(0.99)); // more than the decoder layers hold
    }

    [Theory]
    [InlineData(0.2)]
    [InlineData(0.5)]
    public void UniformFitsTheBudgetOnTheGridWithEqualLayers(double remove)
    {
        foreach (var config in new[] { Gqa, Mha })
        {
            var space = new PruningSpace(config, "h");
            var a = space.Uniform(remove);
            long target = space.TargetParams(remove);
            Assert.True(a.Params(config) <= target);
            Assert.True(space.OnGrid(a));
            Assert.All(a.Layers, l => Assert.Equal(a.Layers[0], l));
            // Within one grid step of the budget: adding one FFN step to every layer would overshoot.
            var larger = new Architecture("h", a.Layers.Select(l => l with { Ffn = Math.Min(96, l.Ffn + 6) }).ToArray());
            Assert.True(larger.Params(config) > target || larger.Layers.All(l => l.Ffn == 96));
        }
    }

    [Fact]
    public void RandomIsDeterministicWithinBudgetAndOnGrid()
    {
        var space = new PruningSpace(Gqa, "h");
        var a = space.Random(0.3, new Random(5));
        var b = space.Random(0.3, new Random(5));
        var c = space.Random(0.3, new Random(6));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        foreach (var x in new[] { a, c })
        {
            Assert.True(x.Params(Gqa) <= space.TargetParams(0.3));
            Assert.True(x.Params(Gqa) > space.TargetParams(0.45)); // the projection fills the budget, not far below it
            Assert.True(space.OnGrid(x));
        }
    }

    [Fact]
    public void GridFollowsGranularity()
    {
        var space = new PruningSpace(Gqa, "h", new Granularity(FfnSteps: 16));
        Assert.Equal([0, 4, 8], space.HeadChoices(0));
        Assert.Equal(Enumerable.Range(0, 17).Select(k => k * 6), space.FfnChoices(0));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8], new PruningSpace(Mha, "h").HeadChoices(0));
    }
}
