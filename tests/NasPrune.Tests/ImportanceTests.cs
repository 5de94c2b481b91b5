using NasPrune.Common;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

public sealed class ImportanceTests : IDisposable
{
    const int Layers = 3, Heads = 4, Ffn = 48, SeqLen = 16;
    /// <summary>The layer whose head group and channel the ranking tests switch off.</summary>
    const int ZeroedLayer = 1, ZeroedGroup = 1, ZeroedChannel = 5;

    readonly string directory = Directory.CreateTempSubdirectory("nasprune-imp-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    public static TheoryData<string, int> CriteriaAndKvHeads()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in ImportanceCriteria.Names)
            foreach (int kv in new[] { 4, 2 }) data.Add(name, kv);
        return data;
    }

    static LlamaForCausalLM Tiny(int kvHeads, bool biased = false, long seed = 11)
    {
        var c = ModelConfig.Uniform(vocab: 50, hidden: 32, layers: Layers, heads: Heads, kvHeads: kvHeads, ffn: Ffn,
            maxPositions: SeqLen, tieEmbeddings: !biased, modelType: biased ? "qwen2" : "llama", qkvBias: biased);
        var m = new LlamaForCausalLM(c);
        m.InitializeWeights(seed, std: 0.2);
        if (biased)
            using (no_grad())
                foreach (var (name, p) in m.named_parameters()) if (name.EndsWith(".bias")) p.normal_(0, 0.3);
        m.eval();
        return m;
    }

    static CalibrationData RandomWindows(int count = 6, int seed = 3)
    {
        var random = new Random(seed);
        var windows = Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, SeqLen).Select(_ => (long)random.Next(50)).ToArray()).ToArray();
        return new CalibrationData(windows);
    }

    static float[] Logits(LlamaForCausalLM m, CalibrationData data)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return m.call(data.Batch(0, data.Windows.Count, CPU)).data<float>().ToArray();
    }

    static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    /// <summary>Switches off one GQA group of heads (its q rows and o columns) and one FFN channel (its up row and down column).</summary>
    static void ZeroStructures(LlamaForCausalLM m)
    {
        var layer = m.model.layers[ZeroedLayer];
        int d = m.Config.HeadDim, g = m.Config.GroupSize;
        using var _ = no_grad();
        layer.self_attn!.q_proj.weight!.narrow(0, ZeroedGroup * g * d, g * d).zero_();
        layer.self_attn.o_proj.weight!.narrow(1, ZeroedGroup * g * d, g * d).zero_();
        layer.mlp!.up_proj.weight!.narrow(0, ZeroedChannel, 1).zero_();
        layer.mlp.down_proj.weight!.narrow(1, ZeroedChannel, 1).zero_();
    }

    static int ArgMin(double[] values) => Array.IndexOf(values, values.Min());

    static ImportanceScores RandomScores(ModelConfig c, int seed)
    {
        var random = new Random(seed);
        double[] Draw(int n) => Enumerable.Range(0, n).Select(_ => random.NextDouble()).ToArray();
        return new ImportanceScores("random", "hash", new CalibrationSettings(),
            c.Layers.Select(l => Draw(l.Heads)).ToArray(), c.Layers.Select(l => Draw(l.Ffn)).ToArray(), Draw(c.NumHiddenLayers));
    }

    static void AssertSortedDescending(ImportanceScores s, int groupSize)
    {
        for (int i = 0; i < s.Layers.Length; i++)
        {
            var groups = s.GroupScores(i, groupSize);
            Assert.Equal(groups.OrderByDescending(x => x), groups);
            Assert.Equal(s.Channels[i].OrderByDescending(x => x), s.Channels[i]);
        }
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(2, true)]
    public void PermutationLeavesLogitsUnchanged(int kvHeads, bool biased)
    {
        using var m = Tiny(kvHeads, biased);
        var data = RandomWindows();
        var before = Logits(m, data);
        using var q0 = m.model.layers[0].self_attn!.q_proj.weight!.detach().clone();

        var scores = RandomScores(m.Config, seed: 5);
        var plan = ImportanceOrder.Plan(m.Config, scores);
        Assert.Contains(plan, p => !p.IsIdentity);
        var reordered = ImportanceOrder.Reorder(m, scores);

        Assert.True(MaxDiff(before, Logits(m, data)) <= 1e-5, $"max logit change {MaxDiff(before, Logits(m, data))}");
        Assert.False(q0.allclose(m.model.layers[0].self_attn!.q_proj.weight!), "the weights should have moved");
        AssertSortedDescending(reordered, m.Config.GroupSize);
        // The reordered scores are a permutation of the originals, layer by layer.
        for (int i = 0; i < Layers; i++)
        {
            Assert.Equal(scores.Heads[i].Order(), reordered.Heads[i].Order());
            Assert.Equal(scores.Channels[i].Order(), reordered.Channels[i].Order());
        }
    }

    [Theory]
    [MemberData(nameof(CriteriaAndKvHeads))]
    public void CriterionRanksZeroedStructuresLast(string criterion, int kvHeads)
    {
        using var m = Tiny(kvHeads);
        ZeroStructures(m);
        var scores = ImportanceCriteria.Get(criterion).Score(m, RandomWindows(), "hash");

        Assert.Equal(criterion, scores.Criterion);
        Assert.All(scores.Heads, h => Assert.Equal(Heads, h.Length));
        Assert.All(scores.Channels, ch => Assert.Equal(Ffn, ch.Length));
        Assert.Equal(Layers, scores.Layers.Length);
        Assert.All(scores.Heads.Concat(scores.Channels).SelectMany(x => x).Concat(scores.Layers), x => Assert.True(double.IsFinite(x) && x >= 0));

        var groups = scores.GroupScores(ZeroedLayer, m.Config.GroupSize);
        Assert.Equal(ZeroedGroup, ArgMin(groups));
        Assert.Single(groups, groups.Min());
        var channels = scores.Channels[ZeroedLayer];
        Assert.Equal(ZeroedChannel, ArgMin(channels));
        Assert.Single(channels, channels.Min());
    }

    [Theory]
    [MemberData(nameof(CriteriaAndKvHeads))]
    public void ReorderPutsZeroedStructuresLastSoDroppingThemChangesNothing(string criterion, int kvHeads)
    {
        using var m = Tiny(kvHeads);
        ZeroStructures(m);
        var data = RandomWindows();
        var full = Logits(m, data);

        var reordered = ImportanceOrder.Reorder(m, ImportanceCriteria.Get(criterion).Score(m, data, "hash"));
        Assert.True(MaxDiff(full, Logits(m, data)) <= 1e-5);
        AssertSortedDescending(reordered, m.Config.GroupSize);

        int g = m.Config.GroupSize;
        var shapes = m.Config.Layers.ToArray();
        shapes[ZeroedLayer] = new LayerShape(true, Heads - g, (Heads - g) / g, Ffn - 1);
        m.SetActiveShapes(shapes);
        double diff = MaxDiff(full, Logits(m, data));
        Assert.True(diff <= 1e-5, $"dropping the last group and channel changed the logits by {diff}");
    }

    [Theory]
    [MemberData(nameof(CriteriaAndKvHeads))]
    public void ScoresAreDeterministicAndLeaveTheModelAsFound(string criterion, int kvHeads)
    {
        using var m = Tiny(kvHeads);
        var data = RandomWindows();
        int g = m.Config.GroupSize;
        var pruned = m.Config.Layers.Select(l => new LayerShape(true, g, 1, 7)).ToArray();
        m.SetActiveShapes(pruned);
        var before = Logits(m, data);

        var c = ImportanceCriteria.Get(criterion);
        var first = c.Score(m, data, "hash");
        var second = c.Score(m, RandomWindows(), "hash");

        Assert.Equal(first.Heads, second.Heads);
        Assert.Equal(first.Channels, second.Channels);
        Assert.Equal(first.Layers, second.Layers);
        // Scores cover the stored shape, and the caller's active shapes, weights and gradients are as they were.
        Assert.All(first.Heads, h => Assert.Equal(Heads, h.Length));
        Assert.Equal(pruned, m.Layers.Select(l => l.ActiveShape));
        Assert.Equal(before, Logits(m, data));
        Assert.All(m.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
    }

    [Fact]
    public void OutputApproximationIsTheSquaredOutputErrorOfRemovingOneStructure()
    {
        // Layer 0 is attention only and layer 1 MLP only, so removing one structure changes its layer's output by
        // exactly that structure's contribution: the closed form must equal the measured squared error.
        var c = ModelConfig.Uniform(vocab: 50, hidden: 32, layers: 2, heads: Heads, kvHeads: 2, ffn: Ffn, maxPositions: SeqLen)
            .WithLayers([new LayerShape(true, Heads, 2, 0), new LayerShape(true, 0, 0, Ffn)]);
        using var m = new LlamaForCausalLM(c);
        m.InitializeWeights(3, std: 0.2);
        var data = RandomWindows();
        var scores = new OutputApproximationCriterion(batchSize: 4).Score(m, data, "hash");
        Assert.Empty(scores.Channels[0]);
        Assert.Empty(scores.Heads[1]);

        double SquaredChange(int layer, Tensor weight, int dim, long start, long length)
        {
            using var saved = weight.detach().clone();
            var before = LayerOutput(m, layer, data);
            using (no_grad()) weight.narrow(dim, start, length).zero_();
            var after = LayerOutput(m, layer, data);
            using (no_grad()) weight.copy_(saved);
            return before.Zip(after, (x, y) => ((double)x - y) * ((double)x - y)).Sum();
        }

        int d = c.HeadDim;
        foreach (int h in new[] { 0, 3 })
        {
            double measured = SquaredChange(0, m.model.layers[0].self_attn!.o_proj.weight!, 1, h * d, d);
            Assert.Equal(measured, scores.Heads[0][h], measured * 1e-3);
        }
        foreach (int ch in new[] { 0, 17, 47 })
        {
            double measured = SquaredChange(1, m.model.layers[1].mlp!.down_proj.weight!, 1, ch, 1);
            Assert.Equal(measured, scores.Channels[1][ch], measured * 1e-3);
        }
    }

    /// <summary>A layer's output (the residual stream after it) over all calibration windows.</summary>
    static float[] LayerOutput(LlamaForCausalLM m, int layer, CalibrationData data)
    {
        float[] output = [];
        m.model.layers[layer].ResidualHook = (_, h) => output = h.detach().data<float>().ToArray();
        try { Logits(m, data); }
        finally { m.model.layers[layer].ResidualHook = null; }
        return output;
    }

    [Fact]
    public void CalibrationDrawIsSeededNonOverlappingAndFromTokens()
    {
        var ids = Enumerable.Range(0, 500).ToArray();
        var settings = new CalibrationSettings("wikitext2", Sequences: 8, SeqLen: 16, Seed: 5);
        var a = CalibrationData.FromTokens(ids, settings, contextLength: 64);
        var b = CalibrationData.FromTokens(ids, settings, contextLength: 64);
        var other = CalibrationData.FromTokens(ids, settings with { Seed = 6 }, contextLength: 64);

        Assert.Equal(a.Starts, b.Starts);
        Assert.Equal(a.Windows, b.Windows);
        Assert.NotEqual(a.Starts, other.Starts);
        Assert.Equal(8, a.Windows.Count);
        for (int w = 0; w < 8; w++)
        {
            Assert.Equal(Enumerable.Range(a.Starts[w], 16).Select(x => (long)x), a.Windows[w]);
            if (w > 0) Assert.True(a.Starts[w] >= a.Starts[w - 1] + 16, "windows overlap");
        }
        // SeqLen 0 means the model's context length.
        Assert.Equal(32, CalibrationData.FromTokens(ids, settings with { SeqLen = 0 }, contextLength: 32).SeqLen);
        Assert.Throws<UserError>(() => CalibrationData.FromTokens(ids, settings with { Sequences = 40 }, contextLength: 64));
        // A window longer than the model's context is refused with the limit named, before any forward pass.
        var tooLong = Assert.Throws<UserError>(() => CalibrationData.FromTokens(ids, settings with { SeqLen = 65 }, contextLength: 64));
        Assert.Contains("max_position_embeddings 64", tooLong.Message);
    }

    [Fact]
    public void CalibrationDataReadsOnlyTheValidationSplit()
    {
        string validation = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "wikitext2-valid-excerpt.txt"));
        string dataDir = Path.Combine(directory, "data");
        var task = PerplexityTask.WikiText2;
        Directory.CreateDirectory(Path.GetDirectoryName(task.FilePath(dataDir, Split.Validation))!);
        File.WriteAllText(task.FilePath(dataDir, Split.Validation), validation);
        // No test split exists: reading it would fail the load.
        Assert.False(File.Exists(task.FilePath(dataDir, Split.Test)));

        string tokenizerDir = Path.Combine(directory, "tokenizer");
        ByteLevelBpeTrainer.Train([validation], new BpeTrainerOptions(VocabSize: 300)).Save(tokenizerDir, 64);
        var tokenizer = TokenizerLoader.Load(tokenizerDir);

        var settings = new CalibrationSettings("wikitext2", Sequences: 6, SeqLen: 16, Seed: 9);
        var data = CalibrationData.Load(settings, dataDir, tokenizer, contextLength: 64);
        var stream = tokenizer.Encode(task.LoadText(dataDir, Split.Validation));
        Assert.Equal(settings, data.Settings);
        Assert.Equal(6, data.Windows.Count);
        for (int w = 0; w < data.Windows.Count; w++)
            Assert.Equal(stream.Skip(data.Starts[w]).Take(16).Select(x => (long)x), data.Windows[w]);
        Assert.Equal(data.Windows, CalibrationData.Load(settings, dataDir, tokenizer, contextLength: 64).Windows);
    }

    [Fact]
    public void CacheComputesOncePerRequestAndNeverReturnsAnotherRequestsScores()
    {
        string modelDir = Path.Combine(directory, "model");
        Directory.CreateDirectory(modelDir);
        string hash = Guid.NewGuid().ToString("N")[..12]; // unique, so no other run's cache entry can match
        var criterion = ImportanceCriteria.Get("magnitude");
        var settings = new CalibrationSettings("wikitext2", 4, 16, 1);
        int computed = 0;
        Func<ImportanceScores> Compute(CalibrationSettings s, string modelHash) => () =>
        {
            computed++;
            return new ImportanceScores("magnitude", modelHash, s, [[1.5, 0.25]], [[3, 2, 1]], [0.125]);
        };

        var first = ImportanceCache.GetOrCompute(modelDir, hash, criterion, settings, Compute(settings, hash));
        string path = Path.Combine(modelDir, ".nasprune", "importance", $"{hash}-magnitude-{settings.Key}.json");
        Assert.True(File.Exists(path));
        var second = ImportanceCache.GetOrCompute(modelDir, hash, criterion, settings, Compute(settings, hash));
        Assert.Equal(1, computed);
        Assert.Equal(first.Heads, second.Heads);
        Assert.Equal(first.Channels, second.Channels);
        Assert.Equal(first.Layers, second.Layers);
        Assert.Equal(settings, second.Calibration);

        var otherSeed = settings with { Seed = 2 };
        ImportanceCache.GetOrCompute(modelDir, hash, criterion, otherSeed, Compute(otherSeed, hash));
        Assert.Equal(2, computed);

        // A file at the right name whose contents are for another model is recomputed, not returned.
        new ImportanceScores("magnitude", "another", settings, [[9.0]], [[9.0]], [9.0]).Save(path);
        var fresh = ImportanceCache.GetOrCompute(modelDir, hash, criterion, settings, Compute(settings, hash));
        Assert.Equal(3, computed);
        Assert.Equal(hash, fresh.ModelHash);

        // A criterion that answers for another request is a bug, never cached.
        Assert.Throws<InvalidOperationException>(() =>
            ImportanceCache.GetOrCompute(modelDir, hash, criterion, settings with { Seed = 3 }, Compute(settings, hash)));
    }

    [Fact]
    public void UnknownCriterionIsAUserError()
    {
        var e = Assert.Throws<UserError>(() => ImportanceCriteria.Get("random"));
        Assert.Contains("output-approx", e.Message);
        Assert.Equal(["magnitude", "activation", "taylor", "output-approx"], ImportanceCriteria.Names);
        Assert.Equal("taylor", ImportanceCriteria.Get("Taylor").Name);
    }

    [Fact]
    public void ScoresForAnotherShapeAreRefused()
    {
        using var m = Tiny(4);
        var other = RandomScores(ModelConfig.Uniform(vocab: 50, hidden: 32, layers: Layers, heads: Heads, kvHeads: 4, ffn: 40, maxPositions: SeqLen), 1);
        Assert.Throws<UserError>(() => ImportanceOrder.Reorder(m, other));
    }
}
