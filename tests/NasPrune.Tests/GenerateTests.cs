using NasPrune.Common;
using NasPrune.Evaluator.Generation;
using NasPrune.Evaluator.Model;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>Incremental decoding (KV cache) against full forward passes, the sampler, and <c>nasprune generate</c>.</summary>
public sealed class GenerateTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>
{
    /// <summary>A grouped-query model whose layers differ: full, fewer heads, attention-free, dropped, no MLP.</summary>
    static LlamaForCausalLM Heterogeneous()
    {
        var c = ModelConfig.Uniform(vocab: 50, hidden: 32, layers: 5, heads: 4, kvHeads: 2, ffn: 24, maxPositions: 64);
        using var full = new LlamaForCausalLM(c);
        full.InitializeWeights(3, std: 0.3);
        var m = PhysicalPruning.Extract(full, [new LayerShape(true, 4, 2, 24), new LayerShape(true, 2, 1, 12),
            new LayerShape(true, 0, 0, 24), LayerShape.Dropped, new LayerShape(true, 4, 2, 0)]);
        m.eval();
        return m;
    }

    static float[] FullForwardLastLogits(LlamaForCausalLM m, IReadOnlyList<int> ids)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = m.call(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]));
        return logits[0, ids.Count - 1].data<float>().ToArray();
    }

    [Fact]
    public void GreedyDecodingIsTheArgmaxOfAFullForwardPassAtEveryStep()
    {
        using var m = Heterogeneous();
        int[] prompt = [3, 17, 8, 41, 5];
        var result = TextGenerator.Generate(m, prompt, 30, new TokenSampler(0, 1, 0));
        Assert.Equal(30, result.Tokens.Count);
        var sequence = prompt.ToList();
        foreach (int generated in result.Tokens)
        {
            Assert.Equal(TokenSampler.ArgMax(FullForwardLastLogits(m, sequence)), generated);
            sequence.Add(generated);
        }
        Assert.True(result.Tokens.Distinct().Count() > 1, "a constant continuation would not exercise the cache");
    }

    /// <summary>A candidate applied in place (prefix views, cache sized to the active heads) decodes as its export does.</summary>
    [Fact]
    public void CandidateInPlaceDecodesAsItsExtractedModel()
    {
        using var prepared = Evaluator.Pruning.PreparedModel.Prepare(tiny.Dir, DataDirectory.Resolve(), "magnitude",
            new Common.CalibrationSettings(Sequences: 4, Seed: 3), CPU);
        var arch = prepared.Space.Random(0.4, new Random(2));
        using var extracted = prepared.Extract(arch);
        extracted.eval();
        prepared.Apply(arch);
        prepared.Model.eval();
        int[] prompt = [5, 9, 2, 7];
        var inPlace = TextGenerator.Generate(prepared.Model, prompt, 20, new TokenSampler(0, 1, 0)).Tokens;
        Assert.Equal(TextGenerator.Generate(extracted, prompt, 20, new TokenSampler(0, 1, 0)).Tokens, inPlace);
        Assert.Equal(TokenSampler.ArgMax(FullForwardLastLogits(prepared.Model, [.. prompt, .. inPlace.Take(19)])), inPlace[19]);
    }

    /// <summary>Chunks after the first exercise the cached-prefix mask (several new queries over older keys).</summary>
    [Fact]
    public void CachedChunksGiveTheLogitsOfTheFullSequence()
    {
        using var m = Heterogeneous();
        int[] ids = Enumerable.Range(0, 23).Select(i => (i * 7 + 3) % 50).ToArray();
        using var cache = new KvCache(m, batch: 1, capacity: ids.Length);
        using var _ = no_grad();
        int start = 0;
        foreach (int length in new[] { 6, 1, 9, 7 })
        {
            using var scope = NewDisposeScope();
            var chunk = ids[start..(start + length)];
            var cached = m.NextTokenLogits(tensor(chunk.Select(i => (long)i).ToArray(), [1, length]), cache).data<float>().ToArray();
            start += length;
            var full = FullForwardLastLogits(m, ids[..start]);
            double diff = cached.Zip(full, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(diff < 1e-5, $"after {start} tokens: max |cached - full| = {diff}");
        }
        Assert.Equal(ids.Length, cache.Length);
    }

    /// <summary>
    /// How far fused and forward logits may differ, relative to the largest logit. The two paths sum in different
    /// orders: libtorch picks its matmul kernel by the CPU's features, the fused path runs <c>MatVec</c>'s eight FMA
    /// chains. In float32 with random weights of std 0.3 that reached 1.3e-5 on the CI machine, so the bound is 1e-4.
    /// A real mistake (a missing bias, a wrong window or head prefix) moves logits by a tenth of their size or more.
    /// </summary>
    const double FusedTolerance = 1e-4;

    /// <summary>Logits of the fused decode path, step by step, against the evaluation forward pass's cached steps.</summary>
    static void AssertFusedStepsMatch(LlamaForCausalLM m, int[] ids, int prompt, double tolerance = FusedTolerance)
    {
        using var _ = inference_mode();
        using var reference = new KvCache(m, batch: 1, capacity: ids.Length);
        using var cache = new KvCache(m, batch: 1, capacity: ids.Length);
        using var decoder = new FusedDecoder(m);
        using (var scope = NewDisposeScope())
        {
            var p = tensor(ids[..prompt].Select(i => (long)i).ToArray(), [1, prompt]);
            m.NextTokenLogits(p, reference);
            m.NextTokenLogits(p, cache);
        }
        for (int t = prompt; t < ids.Length; t++)
        {
            using var scope = NewDisposeScope();
            var expected = m.NextTokenLogits(tensor(new long[] { ids[t] }, [1, 1]), reference).data<float>().ToArray();
            var fused = decoder.NextTokenLogits(ids[t], cache).data<float>().ToArray();
            double diff = expected.Zip(fused, (a, b) => Math.Abs(a - b)).Max();
            double scale = expected.Max(Math.Abs);
            Assert.True(diff <= tolerance * scale, $"position {t}: max |fused - forward| = {diff} (largest logit {scale})");
        }
        Assert.Equal(ids.Length, cache.Length);
        // The cached keys and values are the ones the forward pass stores (to the same tolerance of their largest entry).
        for (int i = 0; i < m.Layers.Count; i++)
            if (reference[i] is { } r)
                foreach (var (a, b) in new[] { (r.Keys, cache[i]!.Keys), (r.Values, cache[i]!.Values) })
                {
                    double diff = (a - b).abs().max().item<float>(), largest = a.abs().max().item<float>();
                    Assert.True(diff <= tolerance * largest, $"layer {i}: max |fused - forward| cached = {diff} (largest {largest})");
                }
    }

    [Fact]
    public void FusedDecodeStepsGiveTheForwardPassLogits()
    {
        using var m = Heterogeneous();
        AssertFusedStepsMatch(m, Enumerable.Range(0, 40).Select(i => (i * 11 + 5) % 50).ToArray(), prompt: 7);
    }

    [Fact]
    public void FusedDecodeHandlesBiasesSlidingWindowsAndCandidatesInPlace()
    {
        // Qwen2-style q/k/v biases, sliding window of 6 from layer 1 on, GQA groups of 3.
        var c = ModelConfig.Uniform(vocab: 40, hidden: 48, layers: 3, heads: 6, kvHeads: 2, ffn: 20, maxPositions: 64,
            tieEmbeddings: false, modelType: "qwen2", qkvBias: true) with { SlidingWindow = new SlidingWindow(6, 1) };
        using var m = new LlamaForCausalLM(c);
        m.InitializeWeights(5, std: 0.3);
        using (no_grad())
            foreach (var (name, p) in m.named_parameters())
                if (name.EndsWith(".bias")) p.normal_(0, 0.3);
        m.eval();
        int[] ids = Enumerable.Range(0, 30).Select(i => (i * 7 + 1) % 40).ToArray();
        AssertFusedStepsMatch(m, ids, prompt: 3);
        // A candidate applied in place: prefixes of heads and channels, one layer dropped.
        m.SetActiveShapes([new LayerShape(true, 3, 1, 8), LayerShape.Dropped, new LayerShape(true, 6, 2, 0)]);
        AssertFusedStepsMatch(m, ids, prompt: 5);
    }

    [Fact]
    public void FusedDecodeAppliesQwen3sPerHeadQkNorm()
    {
        // Qwen3: RMSNorm over each query and key head before RoPE; head_dim 6 is off the 8-lane vector grid.
        var c = ModelConfig.Uniform(vocab: 40, hidden: 24, layers: 2, heads: 4, kvHeads: 2, ffn: 20, maxPositions: 64,
            tieEmbeddings: true, ropeTheta: 1000, modelType: "qwen3", headDim: 6);
        using var m = new LlamaForCausalLM(c);
        m.InitializeWeights(9, std: 0.3);
        using (no_grad())
            foreach (var (name, p) in m.named_parameters())
                if (name.Contains("q_norm") || name.Contains("k_norm")) p.uniform_(0.5, 1.5);
        m.eval();
        AssertFusedStepsMatch(m, Enumerable.Range(0, 24).Select(i => (i * 5 + 2) % 40).ToArray(), prompt: 4);
    }

    [Fact]
    public void AdaptersOrObserversFallBackToTheForwardPass()
    {
        using var m = Heterogeneous();
        Assert.Null(FusedDecoder.Unsupported(m));
        int[] prompt = [4, 8, 15, 16];
        var fused = TextGenerator.Generate(m, prompt, 12, new TokenSampler(0, 1, 0)).Tokens;
        Assert.Equal(TextGenerator.Generate(m, prompt, 12, new TokenSampler(0, 1, 0), fused: false).Tokens, fused);
        int observed = 0;
        m.Layers[0].mlp!.OnOutputProjectionInput = _ => observed++;
        Assert.NotNull(FusedDecoder.Unsupported(m));
        Assert.Throws<ArgumentException>(() => new FusedDecoder(m));
        Assert.Equal(fused, TextGenerator.Generate(m, prompt, 12, new TokenSampler(0, 1, 0)).Tokens);
        Assert.Equal(12, observed); // the prompt once, then every fed-back token: the observer saw each step
    }

    [Fact]
    public void NucleusKeepsOnlyTheMostLikelyTokensAndSamplesBySoftmax()
    {
        float[] logits = [0, (float)Math.Log(2), (float)Math.Log(5), -30];
        var counts = new int[4];
        var sampler = new TokenSampler(1.0, 1.0, 42);
        for (int i = 0; i < 8000; i++) counts[sampler.Next(logits)]++;
        double[] expected = [1 / 8.0, 2 / 8.0, 5 / 8.0];
        for (int t = 0; t < 3; t++) Assert.InRange(counts[t] / 8000.0, expected[t] - 0.02, expected[t] + 0.02);
        // top-p 0.6 keeps only the 5/8 token; 0.7 adds the 2/8 one.
        var narrow = new TokenSampler(1.0, 0.6, 1);
        Assert.All(Enumerable.Range(0, 200), _ => Assert.Equal(2, narrow.Next(logits)));
        var two = new TokenSampler(1.0, 0.7, 1);
        Assert.Equal([1, 2], Enumerable.Range(0, 400).Select(_ => two.Next(logits)).Distinct().Order());
    }
}
