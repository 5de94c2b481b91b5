using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

public sealed class HfCheckpointTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static LlamaForCausalLM Model(ModelConfig c)
    {
        var m = new LlamaForCausalLM(c);
        m.InitializeWeights(3, std: 0.1);
        m.eval();
        return m;
    }

    static Tensor Logits(LlamaForCausalLM m)
    {
        using var _ = no_grad();
        return m.call(tensor(new long[] { 1, 4, 2, 7, 0, 3 }, [1, 6]));
    }

    [Theory]
    [InlineData(false, 0L)]           // one model.safetensors
    [InlineData(true, 0L)]            // untied head
    [InlineData(false, 4096L)]        // sharded: model.safetensors.index.json + several shards
    public void SaveThenLoadGivesTheSameModel(bool untied, long maxShardBytes)
    {
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, maxPositions: 32, tieEmbeddings: !untied);
        using var original = Model(c);
        HfCheckpoint.SaveModel(original, dir, maxShardBytes > 0 ? maxShardBytes : 5L << 30);
        if (maxShardBytes > 0)
        {
            Assert.True(File.Exists(Path.Combine(dir, "model.safetensors.index.json")));
            Assert.True(Directory.GetFiles(dir, "model-*-of-*.safetensors").Length >= 2);
        }
        using var loaded = HfCheckpoint.LoadModel(dir);
        Assert.Equal(c with { TorchDtype = loaded.Config.TorchDtype }, loaded.Config with { Layers = c.Layers });
        Assert.Equal(c.Layers, loaded.Config.Layers);
        using var a = Logits(original);
        using var b = Logits(loaded);
        Assert.True(a.allclose(b, 0, 0), "logits differ after save → load");
    }

    [Fact]
    public void HeterogeneousConfigRoundTripsThroughBlockConfigs()
    {
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 3, heads: 4, kvHeads: 2, ffn: 24, maxPositions: 32)
            .WithLayers([new LayerShape(true, 2, 1, 10), LayerShape.Dropped, new LayerShape(true, 4, 2, 0)]);
        using var m = Model(c);
        HfCheckpoint.SaveModel(m, dir);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(3, json["block_configs"]!.AsArray().Count);
        Assert.True(json["block_configs"]![1]!["attention"]!["no_op"]!.GetValue<bool>());
        using var loaded = HfCheckpoint.LoadModel(dir);
        Assert.Equal(c.Layers, loaded.Config.Layers);
        Assert.Equal(c.TotalParams, loaded.parameters().Sum(p => p.numel()));
        Assert.True(Logits(m).allclose(Logits(loaded), 0, 0));
    }

    [Fact]
    public void LoadsBFloat16AndFloat16Checkpoints()
    {
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 1, heads: 2, kvHeads: 2, ffn: 8, maxPositions: 16);
        using var m = Model(c);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            m.to(dtype);
            HfCheckpoint.SaveModel(m, dir);
            using var loaded = HfCheckpoint.LoadModel(dir); // float32 by default
            foreach (var ((name, p), (_, q)) in m.named_parameters().Zip(loaded.named_parameters()))
                Assert.True(p.to_type(ScalarType.Float32).allclose(q, 0, 0), name);
        }
    }

    [Fact]
    public void WrongShapeNamesTheFileAndTheTensor()
    {
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 1, heads: 2, kvHeads: 2, ffn: 8, maxPositions: 16);
        using (var m = Model(c)) HfCheckpoint.SaveModel(m, dir);
        (c with { IntermediateSize = 12, Layers = [c.UniformLayer with { Ffn = 12 }] }).Save(Path.Combine(dir, "config.json"));
        var e = Assert.Throws<UserError>(() => HfCheckpoint.LoadModel(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("model.layers.0.mlp.", e.Message);
    }

    [Fact]
    public void MissingTensorNamesTheTensor()
    {
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 1, heads: 2, kvHeads: 2, ffn: 8, maxPositions: 16);
        using (var m = Model(c)) HfCheckpoint.SaveModel(m, dir);
        (c with { TieWordEmbeddings = false }).Save(Path.Combine(dir, "config.json"));
        var e = Assert.Throws<UserError>(() => HfCheckpoint.LoadModel(dir));
        Assert.Contains("lm_head.weight", e.Message);
    }

    [Theory]
    [InlineData("{\"model_type\": \"gpt2\", \"hidden_size\": 8}", "model_type 'gpt2'")]
    [InlineData("{\"model_type\": \"llama\"}", "hidden_size")]
    [InlineData("{\"model_type\": \"llama\", \"hidden_size\": \"big\"}", "hidden_size")]
    [InlineData("not json", "malformed JSON")]
    public void BadConfigIsAUserErrorNamingTheFile(string config, string expected)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), config);
        var e = Assert.Throws<UserError>(() => HfCheckpoint.LoadConfig(dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingDirectoryAndMissingWeightsAreUserErrors()
    {
        Assert.Contains("not found", Assert.Throws<UserError>(() => HfCheckpoint.LoadModel(dir)).Message);
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 1, heads: 2, kvHeads: 2, ffn: 8, maxPositions: 16);
        Directory.CreateDirectory(dir);
        c.Save(Path.Combine(dir, "config.json"));
        Assert.Contains("model.safetensors", Assert.Throws<UserError>(() => HfCheckpoint.LoadModel(dir)).Message);
    }

    [Fact]
    public void ModelHashChangesWithTheWeights()
    {
        var c = ModelConfig.Uniform(vocab: 23, hidden: 16, layers: 1, heads: 2, kvHeads: 2, ffn: 8, maxPositions: 16);
        using var m = Model(c);
        HfCheckpoint.SaveModel(m, dir);
        string h1 = HfCheckpoint.ModelHash(dir);
        Assert.Equal(h1, HfCheckpoint.ModelHash(dir));
        Assert.Equal(12, h1.Length);
        using (no_grad()) m.model.norm.weight.add_(1);
        HfCheckpoint.SaveModel(m, dir);
        Assert.NotEqual(h1, HfCheckpoint.ModelHash(dir));
    }
}
