using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// Every kind of model NasPrune makes, exported to GGUF and run by llama.cpp (LLamaSharp 0.30.0's build): for F32
/// files the next-token logits of fixed WikiText-2 windows equal NasPrune's to 1e-3 of the window's largest logit
/// and the perplexity to 1e-4 relative; llama.cpp's tokenizer gives NasPrune's ids.
/// </summary>
public class GgufExportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The real 7M model (8 layers, hidden 256, 8 heads, byte-level BPE of 4096 ids).</summary>
    static readonly string RealModel = GgufTestWindows.RealModelDir;

    static readonly string Excerpt = GgufTestWindows.Excerpt;

    const int WindowLength = GgufTestWindows.Length;

    static string Export(LlamaForCausalLM model, GgufTensorType type = GgufTensorType.F32)
    {
        string path = Path.Combine(Path.GetTempPath(), $"nasprune-gguf-{Guid.NewGuid():N}.gguf");
        GgufExport.Write(model, RealModel, path, type, "test");
        return path;
    }

    /// <summary>Exports, loads in llama.cpp and compares logits and perplexity on the fixed windows.</summary>
    void AssertLlamaCppAgrees(LlamaForCausalLM model, double logitTolerance = 1e-3, double pplTolerance = 1e-4,
        GgufTensorType type = GgufTensorType.F32)
    {
        string path = Export(model, type);
        try { LlamaCppAgreement.AssertAgrees(model, path, GgufTestWindows.Fixed(), output, logitTolerance, pplTolerance); }
        finally { File.Delete(path); }
    }

    static LlamaForCausalLM Real() { var m = HfCheckpoint.LoadModel(RealModel); m.eval(); return m; }

    static LlamaForCausalLM Pruned(LlamaForCausalLM source, params LayerShape[] shapes)
    {
        var m = PhysicalPruning.Extract(source, shapes);
        m.eval();
        return m;
    }

    [Fact]
    public void DenseModelRunsInLlamaCppAsLlama()
    {
        using var model = Real();
        Assert.True(GgufLayout.IsUniform(model.Config));
        AssertLlamaCppAgrees(model);
    }

    [Fact]
    public void UniformlyPrunedModelRunsInLlamaCpp()
    {
        using var full = Real();
        using var model = Pruned(full, Enumerable.Repeat(new LayerShape(true, 6, 6, 512), 8).ToArray());
        Assert.True(GgufLayout.IsUniform(model.Config));
        AssertLlamaCppAgrees(model);
    }

    /// <summary>
    /// Per-layer heads and widths as deci, with each case llama.cpp treats specially: layer 0 without attention,
    /// a dropped layer, attention without MLP, MLP without attention.
    /// </summary>
    [Fact]
    public void HeterogeneousModelWithDroppedLayerRunsInLlamaCppAsDeci()
    {
        using var full = Real();
        using var model = Pruned(full,
            new LayerShape(true, 0, 0, 600),
            new LayerShape(true, 8, 8, 688),
            LayerShape.Dropped,
            new LayerShape(true, 5, 5, 0),
            new LayerShape(true, 0, 0, 300),
            new LayerShape(true, 3, 3, 100),
            new LayerShape(true, 7, 7, 688),
            new LayerShape(true, 2, 2, 1));
        Assert.False(GgufLayout.IsUniform(model.Config));
        AssertLlamaCppAgrees(model);
    }

    [Fact]
    public void DroppedFirstLayerRunsInLlamaCpp()
    {
        using var full = Real();
        using var model = Pruned(full, [LayerShape.Dropped, .. Enumerable.Repeat(new LayerShape(true, 8, 8, 688), 7)]);
        AssertLlamaCppAgrees(model);
    }

    /// <summary>
    /// A dropped last layer: deci's FFN length 0 there would take llama.cpp's output-row selection out of the graph and
    /// abort the process (GGML_ASSERT(buffer)), so it is written as one zero FFN channel.
    /// </summary>
    [Fact]
    public void DroppedLastLayerRunsInLlamaCpp()
    {
        using var full = Real();
        using var model = Pruned(full, [.. Enumerable.Repeat(new LayerShape(true, 8, 8, 688), 7), LayerShape.Dropped]);
        var layout = GgufLayout.For(model.Config);
        Assert.Equal("deci", layout.Arch);
        Assert.Equal((0, 1), (layout.Layers[7].Heads, layout.Layers[7].Ffn));
        AssertLlamaCppAgrees(model);
    }

    /// <summary>A grouped-query model (8 query heads in groups of 4), untied, dense and pruned per layer.</summary>
    [Fact]
    public void GroupedQueryModelsRunInLlamaCpp()
    {
        var c = ModelConfig.Uniform(vocab: 4096, hidden: 128, layers: 4, heads: 8, kvHeads: 2, ffn: 256, maxPositions: 256,
            tieEmbeddings: false, ropeTheta: 500000);
        using var dense = new LlamaForCausalLM(c);
        dense.InitializeWeights(11, std: 0.08);
        dense.eval();
        AssertLlamaCppAgrees(dense);
        using var pruned = Pruned(dense,
            new LayerShape(true, 4, 1, 256), new LayerShape(true, 8, 2, 64), LayerShape.Dropped, new LayerShape(true, 0, 0, 200));
        AssertLlamaCppAgrees(pruned);
    }

    /// <summary>RoPE scaling: linear as llama.cpp's scaling keys, LLaMA 3.1's as a rope_freqs tensor (strong settings, so a miss shows).</summary>
    [Theory]
    [InlineData("linear", false)]
    [InlineData("llama3", false)]
    [InlineData("llama3", true)]
    public void ScaledRopeRunsInLlamaCpp(string type, bool heterogeneous)
    {
        var c = ModelConfig.Uniform(vocab: 4096, hidden: 128, layers: 3, heads: 4, kvHeads: 2, ffn: 128, maxPositions: 256)
            with { RopeScaling = new RopeScaling(type, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64) };
        using var dense = new LlamaForCausalLM(c);
        dense.InitializeWeights(5, std: 0.1);
        dense.eval();
        if (!heterogeneous) { AssertLlamaCppAgrees(dense); return; }
        using var pruned = Pruned(dense, new LayerShape(true, 2, 1, 64), LayerShape.Dropped, new LayerShape(true, 4, 2, 128));
        AssertLlamaCppAgrees(pruned);
    }

    [Fact]
    public void HalfPrecisionExportStaysClose()
    {
        using var full = Real();
        using var model = Pruned(full, [new LayerShape(true, 4, 4, 688), .. Enumerable.Repeat(new LayerShape(true, 8, 8, 344), 7)]);
        AssertLlamaCppAgrees(model, logitTolerance: 2e-2, pplTolerance: 1e-2, type: GgufTensorType.F16);
    }

    /// <summary>
    /// BF16 (8 significant bits against F16's 11): llama.cpp's CPU backend loads it and also rounds the activations
    /// to bf16 in its matmuls, so the tolerances are looser than F16's.
    /// </summary>
    [Fact]
    public void BFloat16ExportStaysClose()
    {
        using var full = Real();
        using var model = Pruned(full, [new LayerShape(true, 4, 4, 688), .. Enumerable.Repeat(new LayerShape(true, 8, 8, 344), 7)]);
        AssertLlamaCppAgrees(model, logitTolerance: 5e-2, pplTolerance: 2e-2, type: GgufTensorType.BF16);
    }

    [Fact]
    public void LlamaCppTokenizesWikiTextAsNasPrune()
    {
        using var model = Real();
        string path = Export(model);
        try
        {
            using var cpp = new LlamaCppModel(path, WindowLength);
            var ours = TokenizerLoader.Load(RealModel).Encode(Excerpt);
            var theirs = cpp.Tokenize(Excerpt);
            Assert.True(ours.Length > 1000, $"{ours.Length} tokens");
            Assert.Equal(ours, theirs);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BiasesAreRefusedWithOneLine()
    {
        var c = ModelConfig.Uniform(vocab: 4096, hidden: 32, layers: 1, heads: 2, kvHeads: 2, ffn: 16, maxPositions: 32, qkvBias: true);
        using var model = new LlamaForCausalLM(c);
        var e = Assert.Throws<UserError>(() => Export(model));
        Assert.Contains("bias", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
