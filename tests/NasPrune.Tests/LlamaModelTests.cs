using NasPrune.Common;
using NasPrune.Evaluator.Model;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

public class LlamaModelTests
{
    internal static LlamaForCausalLM Tiny(ModelConfig c, long seed = 7) => TestModels.Tiny(c, seed);

    internal static ReferenceDecoder Reference(LlamaForCausalLM m)
    {
        var w = new Dictionary<string, double[,]>();
        var v = new Dictionary<string, double[]>();
        foreach (var (name, p) in m.named_parameters())
        {
            var data = p.detach().to_type(ScalarType.Float64).data<double>().ToArray();
            if (p.dim() == 2)
            {
                int rows = (int)p.shape[0], cols = (int)p.shape[1];
                var a = new double[rows, cols];
                for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) a[i, j] = data[i * cols + j];
                w[name] = a;
            }
            else v[name] = data;
        }
        return new ReferenceDecoder(m.Config, w, v);
    }

    internal static void AssertLogitsMatchReference(LlamaForCausalLM m, int[] ids, double tolerance = 1e-4)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = m.call(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length])).to_type(ScalarType.Float64);
        var got = logits.data<double>().ToArray();
        var want = Reference(m).Logits(ids);
        int vocab = m.Config.VocabSize;
        double maxDiff = 0;
        for (int t = 0; t < ids.Length; t++)
            for (int j = 0; j < vocab; j++)
                maxDiff = Math.Max(maxDiff, Math.Abs(got[t * vocab + j] - want[t, j]));
        Assert.True(maxDiff < tolerance, $"max |logit - reference| = {maxDiff}");
    }

    [Fact]
    public void MultiHeadModelMatchesFormulaReference()
    {
        var c = ModelConfig.Uniform(vocab: 11, hidden: 8, layers: 2, heads: 2, kvHeads: 2, ffn: 6, maxPositions: 16);
        AssertLogitsMatchReference(Tiny(c), [3, 1, 4, 1, 5, 9, 2]);
    }

    [Fact]
    public void GroupedQueryUntiedBiasedModelMatchesFormulaReference()
    {
        var c = ModelConfig.Uniform(vocab: 13, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 10, maxPositions: 16,
            tieEmbeddings: false, ropeTheta: 500, modelType: "qwen2", qkvBias: true);
        using var m = Tiny(c);
        using (no_grad()) foreach (var (name, p) in m.named_parameters()) if (name.EndsWith(".bias")) p.normal_(0, 0.5);
        AssertLogitsMatchReference(m, [0, 12, 5, 7, 7, 1]);
        Assert.Equal([4L * 4, 16], m.model.layers[0].self_attn!.q_proj.weight!.shape);
        Assert.Equal([2L * 4, 16], m.model.layers[0].self_attn!.k_proj.weight!.shape);
        Assert.NotNull(m.lm_head);
    }

    [Fact]
    public void HeterogeneousModelWithDroppedLayerMatchesReferenceAndParameterFormula()
    {
        var baseConfig = ModelConfig.Uniform(vocab: 17, hidden: 16, layers: 3, heads: 4, kvHeads: 2, ffn: 12, maxPositions: 16);
        var c = baseConfig.WithLayers([
            new LayerShape(true, 2, 1, 12),   // one GQA group of heads removed
            LayerShape.Dropped,               // whole layer removed
            new LayerShape(true, 0, 0, 5),    // attention removed, FFN narrowed
        ]);
        using var m = Tiny(c);
        AssertLogitsMatchReference(m, [1, 2, 3, 4, 5, 6, 16]);
        long actual = m.parameters().Sum(p => p.numel());
        Assert.Equal(c.TotalParams, actual);
        Assert.Null(m.model.layers[1].self_attn);
        Assert.Null(m.model.layers[2].self_attn);
        Assert.True(c.TotalParams < baseConfig.TotalParams);
    }

    [Fact]
    public void UniformParameterCountMatchesTensorsForTiedAndUntied()
    {
        foreach (bool tied in new[] { true, false })
        {
            var c = ModelConfig.Uniform(vocab: 50, hidden: 32, layers: 3, heads: 4, kvHeads: 1, ffn: 40, maxPositions: 8, tieEmbeddings: tied);
            using var m = new LlamaForCausalLM(c);
            Assert.Equal(c.TotalParams, m.parameters().Sum(p => p.numel()));
            // Known value: 50·32·(1 or 2) + 32 + 3·(32·(32+2·8) + 32·32 + 32 + 3·32·40 + 32)
            long expected = 50 * 32 * (tied ? 1 : 2) + 32 + 3 * (32 * (32 + 16) + 32 * 32 + 32 + 3 * 32 * 40 + 32);
            Assert.Equal(expected, c.TotalParams);
        }
    }

    [Fact]
    public void RmsNormMatchesFormula()
    {
        using var scope = NewDisposeScope();
        var norm = new RmsNorm(4, 1e-5);
        using (no_grad()) norm.weight.copy_(tensor(new float[] { 1, 2, 0.5f, -1 }));
        var y = norm.call(tensor(new float[] { 1, -2, 3, 4 }, [1, 4])).data<float>().ToArray();
        double r = 1 / Math.Sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
        Assert.Equal(new[] { 1 * r, -2 * r * 2, 3 * r * 0.5, 4 * r * -1 }, y.Select(f => (double)f), new Tolerance(1e-6));
    }

    [Fact]
    public void RotaryMatchesRotationFormula()
    {
        var c = ModelConfig.Uniform(vocab: 5, hidden: 8, layers: 1, heads: 1, kvHeads: 1, ffn: 4, maxPositions: 8, ropeTheta: 100);
        var reference = new ReferenceDecoder(c, new Dictionary<string, double[,]>(), new Dictionary<string, double[]>());
        using var scope = NewDisposeScope();
        var (cos, sin) = Rotary.Tables(c, 8, CPU);
        var x = new double[] { 0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 0.05, -2.2 };
        var xt = tensor(x.Select(f => (float)f).ToArray(), [1, 1, 1, 8]);
        for (int pos = 0; pos < 8; pos++)
        {
            var got = Rotary.Apply(xt, cos.narrow(0, pos, 1), sin.narrow(0, pos, 1)).data<float>().ToArray();
            Assert.Equal(reference.Rope(x, pos), got.Select(f => (double)f), new Tolerance(1e-5));
        }
    }

    [Fact]
    public void Llama3RopeScalingFollowsTheReferenceFormula()
    {
        // Llama 3.1's published scaling: factor 8, low 1, high 4, original context 8192, theta 500000, head_dim 128.
        var c = ModelConfig.Uniform(vocab: 5, hidden: 256, layers: 1, heads: 2, kvHeads: 2, ffn: 4, maxPositions: 8, ropeTheta: 500000)
            with { RopeScaling = new RopeScaling("llama3", 8, 1, 4, 8192) };
        var inv = Rotary.InverseFrequencies(c);
        double f0 = 1.0, fLast = Math.Pow(500000, -126.0 / 128);
        Assert.Equal(f0, inv[0], 12);                       // short wavelength: unchanged
        Assert.Equal(fLast / 8, inv[^1], 12);               // long wavelength: divided by factor
        int mid = Enumerable.Range(0, 64).First(i => { double wl = 2 * Math.PI * Math.Pow(500000, 2.0 * i / 128); return wl >= 8192 / 4.0 && wl <= 8192; });
        double f = Math.Pow(500000, -2.0 * mid / 128), smooth = (8192 / (2 * Math.PI / f) - 1) / 3;
        Assert.Equal((1 - smooth) * f / 8 + smooth * f, inv[mid], 12);
    }

    [Fact]
    public void ActiveShapesAreAPrefixViewAndRestore()
    {
        var c = ModelConfig.Uniform(vocab: 19, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 12, maxPositions: 16);
        using var m = Tiny(c);
        var ids = tensor(new long[] { 1, 5, 2, 8, 3 }, [1, 5]);
        using var full = m.call(ids).detach().clone();
        var small = new[] { new LayerShape(true, 2, 1, 6), LayerShape.Dropped };
        m.SetActiveShapes(small);
        Assert.Equal(small, m.Layers.Select(l => l.ActiveShape));
        using var pruned = m.call(ids).detach().clone();
        // Same logits as a physically smaller model holding the prefix of each weight.
        using var physical = Tiny(c.WithLayers(small));
        using (no_grad())
        {
            var source = m.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in physical.named_parameters())
            {
                var s = source[name];
                Tensor view = s;
                for (int d = 0; d < p.dim(); d++) view = view.narrow(d, 0, p.shape[d]);
                p.copy_(view);
            }
        }
        using var physicalLogits = physical.call(ids);
        Assert.True(pruned.allclose(physicalLogits, rtol: 1e-5, atol: 1e-5));
        Assert.False(pruned.allclose(full, rtol: 1e-3, atol: 1e-3));
        m.ResetActiveShapes();
        Assert.True(m.call(ids).allclose(full));
    }

    [Fact]
    public void InvalidShapesAreUserErrors()
    {
        var c = ModelConfig.Uniform(vocab: 19, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 12, maxPositions: 16);
        Assert.Throws<UserError>(() => c.WithLayers([new LayerShape(true, 3, 1, 12), c.UniformLayer])); // splits a GQA group
        Assert.Throws<UserError>(() => c.WithLayers([new LayerShape(true, 6, 3, 12), c.UniformLayer])); // more heads than exist
        Assert.Throws<UserError>(() => c.WithLayers([new LayerShape(true, 4, 2, 13), c.UniformLayer])); // more channels than exist
        using var m = new LlamaForCausalLM(c);
        Assert.Throws<UserError>(() => m.SetActiveShapes([c.UniformLayer]));
    }

    sealed class Tolerance(double eps) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= eps * Math.Max(1, Math.Abs(b));
        public int GetHashCode(double obj) => 0;
    }
}
