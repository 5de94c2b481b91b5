using NasPrune.Common;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// Qwen3, Phi-3 and Qwen2 models exported to GGUF and run by llama.cpp (LLamaSharp 0.30.0's build), dense, uniformly pruned,
/// per layer and with dropped layers: each in the layout <see cref="GgufLayout"/> picks, with llama.cpp's next-token
/// logits of two fixed WikiText-2 windows within 1e-3 of NasPrune's largest logit and the perplexity within 1e-4
/// relative (as GgufExportTests for LLaMA).
/// </summary>
public class GgufFamilyExportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const int WindowLength = GgufTestWindows.Length;

    /// <summary>Qwen3 at test size with head_dim 12 ≠ hidden / heads, as Qwen3's own 128 ≠ 1024 / 16.</summary>
    static ModelConfig Qwen3(bool tied) =>
        ModelConfig.Uniform(vocab: 4096, hidden: 32, layers: 4, heads: 4, kvHeads: 2, ffn: 48, maxPositions: 128,
            tieEmbeddings: tied, ropeTheta: 1000, modelType: "qwen3", headDim: 12);

    static ModelConfig Phi3() =>
        ModelConfig.Uniform(vocab: 4096, hidden: 32, layers: 4, heads: 4, kvHeads: 2, ffn: 48, maxPositions: 128,
            tieEmbeddings: false, modelType: "phi3");

    /// <summary>Qwen2 at test size: q/k/v biases, query width (4 × 8) = the hidden size, as in Qwen2 and Qwen2.5.</summary>
    static ModelConfig Qwen2(bool tied) =>
        ModelConfig.Uniform(vocab: 4096, hidden: 32, layers: 4, heads: 4, kvHeads: 2, ffn: 48, maxPositions: 128,
            tieEmbeddings: tied, ropeTheta: 1000, modelType: "qwen2", qkvBias: true);

    /// <summary>
    /// Random weights large enough that a misplaced row shows, norms included (a q_norm of ones would hide a missing
    /// one), and biases (zero ones would hide a bias that is missing, misplaced or left on a zero head).
    /// </summary>
    static LlamaForCausalLM Random(ModelConfig c, IReadOnlyList<LayerShape>? shapes = null)
    {
        using var full = new LlamaForCausalLM(c);
        full.InitializeWeights(17, std: 0.15);
        using (var _ = no_grad())
        {
            var g = new TorchSharp.torch.Generator(23);
            foreach (var (name, p) in full.named_parameters())
                if (name.EndsWith("norm.weight")) p.copy_(rand(p.shape, generator: g) + 0.5);
                else if (name.EndsWith(".bias")) p.copy_(randn(p.shape, generator: g) * 0.5);
        }
        var m = PhysicalPruning.Extract(full, shapes ?? c.Layers);
        m.eval();
        return m;
    }

    /// <summary>Exports <paramref name="model"/>, checks the layout chosen, and compares llama.cpp with NasPrune.</summary>
    GgufLayout AssertRunsInLlamaCppAs(LlamaForCausalLM model, string arch)
    {
        var layout = GgufLayout.For(model.Config);
        Assert.Equal(arch, layout.Arch);
        output.WriteLine(layout.Summary);
        string path = Path.Combine(Path.GetTempPath(), $"nasprune-gguf-family-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufExport.Write(model, GgufTestWindows.RealModelDir, path, GgufTensorType.F32, "test");
            LlamaCppAgreement.AssertAgrees(model, path, GgufTestWindows.Fixed(), output);
        }
        finally { File.Delete(path); }
        return layout;
    }

    static LayerShape S(int heads, int kv, int ffn) => new(true, heads, kv, ffn);

    /// <summary>Per-layer shapes with every case llama.cpp treats specially: no attention in layer 0, one GQA group fewer, a dropped layer, no MLP in the last layer.</summary>
    static readonly LayerShape[] PerLayer = [S(0, 0, 48), S(2, 1, 24), LayerShape.Dropped, S(4, 2, 0)];

    // ---- Qwen3 ----

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void DenseQwen3RunsAsQwen3(bool tied, bool linearRope)
    {
        var c = Qwen3(tied);
        if (linearRope) c = c with { RopeScaling = new RopeScaling("linear", Factor: 4) };
        using var model = Random(c);
        var layout = AssertRunsInLlamaCppAs(model, "qwen3");
        Assert.False(layout.HasZeroWeights);
        Assert.True(layout.QkNorm);
        Assert.False(layout.RotaryPermuted); // llama.cpp's qwen3 rotates halves (NEOX), as Hugging Face does
    }

    /// <summary>Heads pruned in whole GQA groups and FFN channels, the same in every layer: still plain qwen3, smaller.</summary>
    [Fact]
    public void UniformlyPrunedQwen3RunsAsQwen3()
    {
        using var model = Random(Qwen3(tied: true), Enumerable.Repeat(S(2, 1, 24), 4).ToArray());
        var layout = AssertRunsInLlamaCppAs(model, "qwen3");
        Assert.All(layout.Layers, p => Assert.Equal((2, 1, 24), (p.Heads, p.KvHeads, p.Ffn)));
    }

    /// <summary>
    /// Tied Qwen3 with per-layer shapes as llama.cpp's openelm (per-layer counts, per-head q/k RMSNorm): each layer
    /// keeps its own width; only the missing blocks become one zero GQA group or one zero FFN channel.
    /// </summary>
    [Fact]
    public void PerLayerTiedQwen3RunsAsOpenElm()
    {
        using var model = Random(Qwen3(tied: true), PerLayer);
        var layout = AssertRunsInLlamaCppAs(model, "openelm");
        Assert.True(layout.PerLayerCounts);
        Assert.Equal([(2, 1, 48), (2, 1, 24), (2, 1, 1), (4, 2, 1)], layout.Layers.Select(p => (p.Heads, p.KvHeads, p.Ffn)));
        Assert.Equal(["0 (+2 zero heads)", "2 (+2 zero heads, +1 zero FFN channel)", "3 (+1 zero FFN channel)"],
            layout.ZeroBlocks().Select(z => z.Text));
    }

    /// <summary>
    /// Untied Qwen3 with per-layer shapes: openelm would tie the output to the embeddings, so qwen3 with every layer
    /// padded to the widest (4 heads, 48 channels). Zero heads pass through q/k RMSNorm as zeros and add nothing.
    /// </summary>
    [Fact]
    public void PerLayerUntiedQwen3RunsAsPaddedQwen3()
    {
        using var model = Random(Qwen3(tied: false), PerLayer);
        var layout = AssertRunsInLlamaCppAs(model, "qwen3");
        Assert.False(layout.PerLayerCounts);
        Assert.All(layout.Layers, p => Assert.Equal((4, 2, 48), (p.Heads, p.KvHeads, p.Ffn)));
        Assert.Contains("padded to 4 heads and 48 FFN channels", layout.Summary);
        Assert.Equal([0, 1, 2, 3], layout.ZeroBlocks().Select(z => z.Layer));
    }

    // ---- Phi-3 ----

    /// <summary>
    /// Dense Phi-3 as phi3 (fused attn_qkv, gate and up fused in ffn_up). Its sliding window (96, under the 128-position
    /// context) is written as convert_hf_to_gguf.py writes it; llama.cpp switches Phi-3's window off, which changes
    /// nothing within 96 tokens, and the layout says so.
    /// </summary>
    [Fact]
    public void DensePhi3RunsAsPhi3()
    {
        using var model = Random(Phi3() with { SlidingWindow = new SlidingWindow(WindowLength, 0) });
        var layout = AssertRunsInLlamaCppAs(model, "phi3");
        Assert.True(layout.FusedQkv && layout.FusedGateUp);
        Assert.False(layout.RotaryPermuted);
        Assert.Contains("agree up to 96 tokens", layout.Note);
    }

    [Fact]
    public void FfnPrunedPhi3RunsAsPhi3()
    {
        using var model = Random(Phi3(), Enumerable.Repeat(S(4, 2, 20), 4).ToArray());
        var layout = AssertRunsInLlamaCppAs(model, "phi3");
        Assert.Equal(20, layout.Layers[0].Ffn);
    }

    /// <summary>
    /// llama.cpp's phi3 fixes the query width at the hidden size, so a Phi-3 with pruned heads is written as LLaMA
    /// (q/k/v and gate/up split, q/k rows permuted for llama.cpp's RoPE): the same computation, and smaller.
    /// </summary>
    [Fact]
    public void HeadPrunedPhi3RunsAsLlama()
    {
        using var model = Random(Phi3(), Enumerable.Repeat(S(2, 1, 48), 4).ToArray());
        var layout = AssertRunsInLlamaCppAs(model, "llama");
        Assert.True(layout.RotaryPermuted);
        Assert.False(layout.FusedQkv);
    }

    [Fact]
    public void PerLayerPhi3WithDroppedLastLayerRunsAsDeci()
    {
        using var model = Random(Phi3(), [S(0, 0, 48), S(2, 1, 24), S(4, 2, 0), LayerShape.Dropped]);
        var layout = AssertRunsInLlamaCppAs(model, "deci");
        Assert.Equal((0, 1), (layout.Layers[3].Heads, layout.Layers[3].Ffn)); // the dropped last layer keeps one zero channel
    }

    // ---- Qwen2 ----

    /// <summary>
    /// Dense Qwen2 as qwen2: q/k/v weights and biases as Hugging Face has them (NEOX RoPE rotates halves), the output
    /// tied or not. With LLaMA 3.1's RoPE scaling as llama, which reads the frequency factors qwen2 does not.
    /// </summary>
    [Theory]
    [InlineData(true, null, "qwen2")]
    [InlineData(false, "linear", "qwen2")]
    [InlineData(false, "llama3", "llama")]
    public void DenseQwen2RunsAsQwen2(bool tied, string? rope, string arch)
    {
        var c = Qwen2(tied) with
        {
            RopeScaling = rope switch
            {
                "linear" => new RopeScaling("linear", Factor: 4),
                "llama3" => new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 32),
                _ => null,
            },
        };
        using var model = Random(c);
        var layout = AssertRunsInLlamaCppAs(model, arch);
        Assert.True(layout.QkvBias);
        Assert.False(layout.HasZeroWeights);
        Assert.Equal(arch == "llama", layout.RotaryPermuted);
    }

    /// <summary>FFN channels pruned alike in every layer, all heads kept: plain qwen2, smaller.</summary>
    [Fact]
    public void FfnPrunedQwen2RunsAsQwen2()
    {
        using var model = Random(Qwen2(tied: false), Enumerable.Repeat(S(4, 2, 20), 4).ToArray());
        var layout = AssertRunsInLlamaCppAs(model, "qwen2");
        Assert.Equal(20, layout.Layers[0].Ffn);
    }

    /// <summary>
    /// Heads pruned in whole GQA groups: llama.cpp's qwen2 wants a query as wide as the hidden size
    /// (<see cref="LlamaCppsQwen2TakesOneShapeWithTheQueryAtTheHiddenSize"/>), so llama with the q/k/v biases, which
    /// llama.cpp adds at the layer's own query width; q/k rows and biases permuted for its NORM RoPE. Exact and smaller.
    /// </summary>
    [Fact]
    public void HeadPrunedQwen2RunsAsLlamaWithBiases()
    {
        using var model = Random(Qwen2(tied: true), Enumerable.Repeat(S(2, 1, 24), 4).ToArray());
        var layout = AssertRunsInLlamaCppAs(model, "llama");
        Assert.True(layout.QkvBias && layout.RotaryPermuted);
        Assert.All(layout.Layers, p => Assert.Equal((2, 1, 24), (p.Heads, p.KvHeads, p.Ffn)));
        Assert.Contains("fixes the query width at the hidden size (32), this model's is 16", layout.Why);
    }

    /// <summary>
    /// Per-layer shapes (no attention in layer 0, a narrower layer, a dropped layer, no MLP in the last) as deci with
    /// the q/k/v biases of each layer's own width: no padding but deci's stand-ins, whose zero heads have zero biases.
    /// </summary>
    [Fact]
    public void PerLayerQwen2RunsAsDeciWithBiases()
    {
        using var model = Random(Qwen2(tied: false), PerLayer);
        var layout = AssertRunsInLlamaCppAs(model, "deci");
        Assert.True(layout.QkvBias && layout.RotaryPermuted && layout.PerLayerCounts);
        Assert.Equal([(2, 1, 48), (2, 1, 24), (0, 0, 0), (4, 2, 1)], layout.Layers.Select(p => (p.Heads, p.KvHeads, p.Ffn)));
        Assert.Equal(["0 (+2 zero heads)", "3 (+1 zero FFN channel)"], layout.ZeroBlocks().Select(z => z.Text));
    }

    /// <summary>Dropped layers, the last one among them (deci keeps it one zero FFN channel), tied output.</summary>
    [Fact]
    public void Qwen2WithDroppedLayersRunsAsDeci()
    {
        using var model = Random(Qwen2(tied: true), [S(4, 2, 48), LayerShape.Dropped, S(2, 1, 32), LayerShape.Dropped]);
        var layout = AssertRunsInLlamaCppAs(model, "deci");
        Assert.Equal([(4, 2, 48), (0, 0, 0), (2, 1, 32), (0, 0, 1)], layout.Layers.Select(p => (p.Heads, p.KvHeads, p.Ffn)));
    }

    /// <summary>
    /// Why Qwen2 leaves qwen2 as soon as heads are pruned or layers differ: llama.cpp's qwen2 reads attn_q at
    /// [hidden, hidden] and takes layer 0's shape for every layer, so both files are refused at load. (Should a later
    /// llama.cpp accept them, this test says so, and qwen2 could take more shapes.)
    /// </summary>
    [Fact]
    public void LlamaCppsQwen2TakesOneShapeWithTheQueryAtTheHiddenSize()
    {
        LayerShape[] uniform = [.. Enumerable.Repeat(S(2, 1, 48), 4)], perLayer = [S(4, 2, 48), S(2, 1, 24), S(4, 2, 40), S(4, 2, 16)];
        foreach (var (shapes, perLayerCounts, refusedTensor) in new[] { (uniform, false, "blk.0.attn_q.weight"), (perLayer, true, "blk.1.attn_q.weight") })
        {
            using var model = Random(Qwen2(tied: false), shapes);
            var plans = Enumerable.Range(0, 4).Select(i => GgufLayerPlan.Exact(model.Config, i)).ToArray();
            var qwen2 = new GgufLayout("qwen2", "forced", plans, perLayerCounts, RotaryPermuted: false, FusedQkv: false, FusedGateUp: false,
                QkNorm: false, QkvBias: true);
            string error = LlamaCppRefusal(model, qwen2);
            Assert.Contains($"tensor '{refusedTensor}' has wrong shape", error);
        }
    }

    /// <summary>llama.cpp's error log when it refuses to load <paramref name="model"/> written in <paramref name="layout"/>.</summary>
    static string LlamaCppRefusal(LlamaForCausalLM model, GgufLayout layout)
    {
        string path = Path.Combine(Path.GetTempPath(), $"nasprune-gguf-refused-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufExport.Write(model, GgufTestWindows.RealModelDir, path, GgufTensorType.F32, "test", layout);
            return LlamaCppAgreement.Refusal(path, WindowLength);
        }
        finally { File.Delete(path); }
    }

    /// <summary>
    /// A "phi-3"/"phi3" general.name makes llama.cpp look up Phi-3's SentencePiece tokens by text and fail to load a
    /// vocabulary without them (FamilyTests exports tiny-phi3 under its name through llama.cpp); such a name is
    /// written without the trigger, and left alone where the tokens exist.
    /// </summary>
    [Fact]
    public void PhiThreeNamesAreWrittenSoLlamaCppLoadsAByteLevelVocabulary()
    {
        string[] bpe = ["a", "b", "<|endoftext|>"];
        Assert.Equal("Phi 3-mini-4k pruned", GgufExport.LlamaCppSafeName("Phi-3-mini-4k pruned", bpe));
        Assert.Equal("tiny-phi 3 a1b2", GgufExport.LlamaCppSafeName("tiny-phi3 a1b2", bpe));
        Assert.Equal("tinyllama", GgufExport.LlamaCppSafeName("tinyllama", bpe));
        string[] sentencePiece = ["<unk>", "<s>", "</s>", "<|endoftext|>"];
        Assert.Equal("Phi-3-mini", GgufExport.LlamaCppSafeName("Phi-3-mini", sentencePiece));
    }
}
