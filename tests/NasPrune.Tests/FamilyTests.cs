using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Synthetic;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// Qwen3 (per-head q/k RMSNorm before RoPE) and Phi-3 (fused qkv_proj / gate_up_proj in the checkpoint) against the
/// formula reference, through save/load, importance, candidates and export; and the synthetic checkpoints of
/// <c>nasprune synth</c>.
/// </summary>
public sealed class FamilyTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-family-" + Guid.NewGuid().ToString("N"));
    static readonly int[] Ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static ModelConfig Qwen3(bool tied = true) =>
        ModelConfig.Uniform(vocab: 13, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 10, maxPositions: 16,
            tieEmbeddings: tied, ropeTheta: 1000, modelType: "qwen3", headDim: 6); // head_dim ≠ hidden/heads, as Qwen3-0.6B's 128 ≠ 1024/16

    static ModelConfig Phi3() =>
        ModelConfig.Uniform(vocab: 13, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 10, maxPositions: 16,
            tieEmbeddings: false, modelType: "phi3");

    /// <summary>A tiny model with every weight random, norms included (q_norm/k_norm at 1 would hide a missing norm's weight).</summary>
    static LlamaForCausalLM Random(ModelConfig c, long seed = 5)
    {
        var m = LlamaModelTests.Tiny(c, seed);
        using var _ = no_grad();
        var g = new TorchSharp.torch.Generator((ulong)seed + 1);
        foreach (var (name, p) in m.named_parameters())
            if (name.EndsWith("norm.weight")) p.copy_(rand(p.shape, generator: g) + 0.5);
        return m;
    }

    static Dictionary<string, double[,]> Matrices(IReadOnlyDictionary<string, Tensor> tensors) => tensors
        .Where(t => t.Value.dim() == 2)
        .ToDictionary(t => t.Key, t =>
        {
            var data = t.Value.to_type(ScalarType.Float64).data<double>().ToArray();
            int rows = (int)t.Value.shape[0], cols = (int)t.Value.shape[1];
            var a = new double[rows, cols];
            for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) a[i, j] = data[i * cols + j];
            return a;
        });

    static void AssertLogitsMatch(LlamaForCausalLM m, ReferenceDecoder reference, int[] ids, double tolerance = 1e-4)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var got = m.call(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length])).to_type(ScalarType.Float64).data<double>().ToArray();
        var want = reference.Logits(ids);
        int vocab = m.Config.VocabSize;
        double maxDiff = 0;
        for (int t = 0; t < ids.Length; t++) for (int j = 0; j < vocab; j++) maxDiff = Math.Max(maxDiff, Math.Abs(got[t * vocab + j] - want[t, j]));
        Assert.True(maxDiff < tolerance, $"max |logit - reference| = {maxDiff}");
    }

    // ---- Qwen3 ----

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Qwen3MatchesTheFormulaReferenceWithPerHeadQkNorm(bool tied)
    {
        using var m = Random(Qwen3(tied));
        Assert.NotNull(m.model.layers[0].self_attn!.q_norm);
        Assert.Equal([6L], m.model.layers[0].self_attn!.k_norm!.weight.shape);
        Assert.Equal([4L * 6, 16], m.model.layers[0].self_attn!.q_proj.weight!.shape);
        Assert.Null(m.model.layers[0].self_attn!.q_proj.bias);
        Assert.Equal(m.Config.TotalParams, m.parameters().Sum(p => p.numel()));
        LlamaModelTests.AssertLogitsMatchReference(m, Ids);

        // The norms matter: the same weights with q_norm at 1 give other logits.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var before = m.call(tensor(Ids.Select(i => (long)i).ToArray(), [1, Ids.Length]));
        m.model.layers[1].self_attn!.q_norm!.weight.fill_(1);
        var after = m.call(tensor(Ids.Select(i => (long)i).ToArray(), [1, Ids.Length]));
        Assert.False(before.allclose(after, 1e-4, 1e-4));
    }

    [Fact]
    public void Qwen3SavesAndLoadsAsAQwen3Checkpoint()
    {
        using var m = Random(Qwen3());
        HfCheckpoint.SaveModel(m, dir);
        var j = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        Assert.Equal("qwen3", j["model_type"]!.GetValue<string>());
        Assert.Equal("Qwen3ForCausalLM", j["architectures"]![0]!.GetValue<string>());
        Assert.Equal(6, j["head_dim"]!.GetValue<int>());
        var names = SafeTensorsFile.ReadHeader(Path.Combine(dir, "model.safetensors")).Keys.ToHashSet();
        Assert.Contains("model.layers.1.self_attn.q_norm.weight", names);
        Assert.Contains("model.layers.1.self_attn.k_norm.weight", names);
        using var loaded = HfCheckpoint.LoadModel(dir);
        Assert.True(loaded.Config.QkNorm);
        foreach (var ((name, p), (_, q)) in m.named_parameters().Zip(loaded.named_parameters()))
            Assert.True(p.allclose(q, 0, 0), name);
        LlamaModelTests.AssertLogitsMatchReference(loaded, Ids);
    }

    [Fact]
    public void Qwen3SlidingWindowIsReadAsQwen2s()
    {
        var j = Qwen3().ToJson();
        j["use_sliding_window"] = true;
        j["sliding_window"] = 4;
        j["max_window_layers"] = 1;
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), j.ToJsonString());
        var c = HfCheckpoint.LoadConfig(dir);
        Assert.Null(c.AttentionWindow(0));
        Assert.Equal(4, c.AttentionWindow(1));
        using var m = Random(c);
        LlamaModelTests.AssertLogitsMatchReference(m, Ids);
    }

    // ---- Phi-3 ----

    [Fact]
    public void Phi3CheckpointStoresFusedProjectionsAndMatchesTheReferenceFromThem()
    {
        using var m = Random(Phi3());
        HfCheckpoint.SaveModel(m, dir);
        var path = Path.Combine(dir, "model.safetensors");
        var header = SafeTensorsFile.ReadHeader(path);
        Assert.Equal([4L * 4 + 2 * 2 * 4, 16], header["model.layers.0.self_attn.qkv_proj.weight"].Shape);
        Assert.Equal([2L * 10, 16], header["model.layers.0.mlp.gate_up_proj.weight"].Shape);
        Assert.DoesNotContain(header.Keys, k => k.Contains("q_proj") || k.Contains("gate_proj.") || k.Contains("up_proj.weight") && !k.Contains("gate_up"));
        Assert.Equal("Phi3ForCausalLM", JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!["architectures"]![0]!.GetValue<string>());

        using var loaded = HfCheckpoint.LoadModel(dir);
        foreach (var ((name, p), (_, q)) in m.named_parameters().Zip(loaded.named_parameters()))
            Assert.True(p.allclose(q, 0, 0), name);
        // The reference reads the fused tensors from the file and splits them by Phi-3's formulas, not NasPrune's code.
        var stored = SafeTensorsFile.Load(path);
        var vectors = stored.Where(t => t.Value.dim() == 1).ToDictionary(t => t.Key, t => t.Value.to_type(ScalarType.Float64).data<double>().ToArray());
        var reference = new ReferenceDecoder(loaded.Config, ReferenceDecoder.SplitPhi3(loaded.Config, Matrices(stored)), vectors);
        AssertLogitsMatch(loaded, reference, Ids);
    }

    [Fact]
    public void Phi3SlidingWindowAndUnsupportedFeaturesAreOneLine()
    {
        var j = Phi3().ToJson();
        j["sliding_window"] = 3;
        Directory.CreateDirectory(dir);
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, j.ToJsonString());
        var c = HfCheckpoint.LoadConfig(dir);
        Assert.Equal(3, c.AttentionWindow(0));
        using (var m = Random(c)) LlamaModelTests.AssertLogitsMatchReference(m, Ids);

        foreach (var (field, value, expect) in new[] {
            ("partial_rotary_factor", (JsonNode)0.75, "partial_rotary_factor"),
            ("rope_scaling", JsonNode.Parse("{\"type\": \"longrope\", \"long_factor\": [1], \"short_factor\": [1]}")!, "longrope"),
            ("attention_bias", (JsonNode)true, "attention_bias") })
        {
            var bad = Phi3().ToJson();
            bad[field] = value;
            File.WriteAllText(config, bad.ToJsonString());
            var e = Assert.Throws<UserError>(() => HfCheckpoint.LoadConfig(dir));
            Assert.Contains(expect, e.Message);
            Assert.Contains("config.json", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    /// <summary>What no llama.cpp layout computes is refused in one line, before a file is started (the families themselves export: GgufFamilyExportTests).</summary>
    [Theory]
    [InlineData("qwen2-mlp-bias", "mlp_bias")]
    [InlineData("llama-attention-bias", "attention_bias")]
    [InlineData("phi3-gelu", "hidden_act")]
    [InlineData("qwen3-llama3-rope", "llama3")]
    [InlineData("qwen3-eps0-zero-heads", "rms_norm_eps")]
    public void GgufExportRefusesWhatLlamaCppCannotComputeWithOneLine(string variant, string expect)
    {
        var c = variant switch
        {
            "qwen2-mlp-bias" => ModelConfig.Uniform(vocab: 13, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 10, maxPositions: 16, modelType: "qwen2", qkvBias: true) with { MlpBias = true },
            "llama-attention-bias" => ModelConfig.Uniform(vocab: 13, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 10, maxPositions: 16, qkvBias: true) with { OutputBias = true },
            "phi3-gelu" => Phi3() with { HiddenAct = "gelu" },
            "qwen3-llama3-rope" => Qwen3() with { RopeScaling = new RopeScaling("llama3", Factor: 8, OriginalMaxPositionEmbeddings: 8) },
            _ => Qwen3() with { RmsNormEps = 0 },
        };
        using var full = Random(c);
        // Zero heads exist only where a layer is narrower than the layout: a dropped first layer becomes one zero GQA group (openelm).
        using var m = variant == "qwen3-eps0-zero-heads" ? PhysicalPruning.Extract(full, [LayerShape.Dropped, c.UniformLayer]) : PhysicalPruning.Extract(full, c.Layers);
        var e = Assert.Throws<UserError>(() => GgufExport.Write(m, dir, Path.Combine(dir, "x.gguf"), GgufTensorType.F32, "t"));
        Assert.Contains(expect, e.Message);
        Assert.StartsWith("GGUF export: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(Path.Combine(dir, "x.gguf")));
    }

    // ---- synthetic checkpoints of each family through the pipeline ----

    /// <summary>synth writes the shape; its weights are then replaced by larger random ones so that pruning changes the perplexity visibly.</summary>
    string SynthFamily(string shape)
    {
        var result = SyntheticCheckpoint.Write(shape, dir, DataDirectory.DefaultModel(), seed: 3, ScalarType.BFloat16);
        Assert.Equal(512, result.VocabSize);
        using var m = HfCheckpoint.LoadModel(dir);
        m.InitializeWeights(9, std: 0.15);
        HfCheckpoint.SaveModel(m, dir);
        return dir;
    }

    [Theory]
    [InlineData("tiny-qwen3", "activation")]
    [InlineData("tiny-phi3", "taylor")]
    [InlineData("tiny-llama", "magnitude")]
    public void ImportanceCandidateAndExportKeepTheInPlacePerplexity(string shape, string criterion)
    {
        string model = SynthFamily(shape);
        using var prepared = PreparedModel.Prepare(model, DataDirectory.Resolve(), criterion, new CalibrationSettings(Sequences: 2, SeqLen: 64, Seed: 3), CPU);
        // Calibration and perplexity windows follow the calibration's seq_len (64), not the context (128).
        Assert.Equal(64, prepared.SeqLen);
        Assert.Equal(64, prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 1).SeqLen);
        // Reordering by importance computes the same function.
        using (var original = HfCheckpoint.LoadModel(model))
        {
            double a = prepared.Perplexity(original, PerplexityTask.WikiText2, Split.Validation, maxWindows: 2).Ppl;
            double b = prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 2).Ppl;
            Assert.True(Math.Abs(a - b) < 1e-4 * a, $"reordered {b} vs original {a}");
        }
        // A heterogeneous candidate: one GQA group fewer in layer 0, half the FFN of layer 1.
        var c = prepared.Model.Config;
        var shapes = new[] { c.UniformLayer with { Heads = c.GroupSize, KvHeads = 1 }, c.UniformLayer with { Ffn = c.IntermediateSize / 2 } };
        prepared.Model.SetActiveShapes(shapes);
        var inPlace = prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 2).Ppl;
        string outDir = Path.Combine(dir, "pruned");
        using (var pruned = PhysicalPruning.ExtractActive(prepared.Model)) HfCheckpoint.SaveModel(pruned, outDir);
        prepared.Model.ResetActiveShapes();
        var full = prepared.Perplexity(prepared.Model, PerplexityTask.WikiText2, Split.Validation, maxWindows: 2).Ppl;
        HfCheckpoint.CopyTokenizer(model, outDir);

        var j = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!.AsObject();
        Assert.Equal(c.ModelType, j["model_type"]!.GetValue<string>());
        var names = SafeTensorsFile.ReadHeader(Path.Combine(outDir, "model.safetensors"));
        if (c.FusedProjections)
            Assert.Equal([(long)(c.GroupSize + 2) * c.HeadDim, c.HiddenSize], names["model.layers.0.self_attn.qkv_proj.weight"].Shape);
        if (c.QkNorm)
            Assert.Equal([(long)c.HeadDim], names["model.layers.0.self_attn.q_norm.weight"].Shape); // shared by the heads: kept whole
        using var loaded = HfCheckpoint.LoadModel(outDir);
        Assert.Equal(shapes, loaded.Config.Layers);
        Assert.Equal(loaded.Config.TotalParams, loaded.parameters().Sum(p => p.numel()));
        var exported = prepared.Perplexity(loaded, PerplexityTask.WikiText2, Split.Validation, maxWindows: 2).Ppl;
        Assert.True(Math.Abs(exported - inPlace) < 1e-4 * inPlace, $"exported {exported} vs in place {inPlace}");
        Assert.True(Math.Abs(full - inPlace) > 1e-3 * full, $"pruning changed nothing: {full} vs {inPlace}");

        // The same candidate as GGUF in llama.cpp (tiny-llama and tiny-phi3 as deci, tied tiny-qwen3 as openelm). The
        // windows are shorter than tiny-phi3's 47-token sliding window, which llama.cpp does not apply.
        string gguf = Path.Combine(dir, "pruned.gguf");
        GgufExport.Write(loaded, outDir, gguf, GgufTensorType.F32, shape); // "tiny-phi3" as the name: see GgufExport.LlamaCppSafeName
        var ids = TokenizerLoader.Load(outDir).Encode(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "wikitext2-valid-excerpt.txt")));
        loaded.eval();
        LlamaCppAgreement.AssertAgrees(loaded, gguf, [ids[..40], ids[40..80]], output);
    }

    [Fact]
    public void ParameterShapesAreTheModulesParameters()
    {
        var llama = ModelConfig.Uniform(vocab: 20, hidden: 16, layers: 3, heads: 4, kvHeads: 2, ffn: 12, maxPositions: 8, tieEmbeddings: false);
        foreach (var c in new[] {
            llama, Qwen3(), Phi3(),
            ModelConfig.Uniform(vocab: 20, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 12, maxPositions: 8, modelType: "qwen2", qkvBias: true),
            llama.WithLayers([new LayerShape(true, 2, 1, 12), LayerShape.Dropped, new LayerShape(true, 0, 0, 5)]) with { MlpBias = true, OutputBias = true } })
        {
            using var m = new LlamaForCausalLM(c);
            var want = m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
            var got = SyntheticCheckpoint.ParameterShapes(c);
            Assert.Equal(want.Keys.Order(), got.Keys.Order());
            foreach (var (name, shape) in want) Assert.Equal(shape, got[name]);
        }
    }

    [Fact]
    public void SynthWritesARealShapedCheckpointTheLoaderAccepts()
    {
        var result = SyntheticCheckpoint.Write("tiny-qwen3", dir, DataDirectory.DefaultModel(), seed: 1, ScalarType.BFloat16);
        var header = SafeTensorsFile.ReadHeader(Path.Combine(dir, "model.safetensors"));
        Assert.All(header.Values, t => Assert.Equal("BF16", t.DType));
        var tokenizer = TokenizerLoader.Load(dir);
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.Equal(512, result.TrainedTokens); // the first 512 tokens of the embedded BPE: no padding needed
        Assert.True(tokenizer.Encode("the history of the world").Length < "the history of the world".Length); // merges work
        using var m = HfCheckpoint.LoadModel(dir);
        Assert.Equal(result.Params, m.parameters().Sum(p => p.numel()));
        Assert.Equal(ScalarType.Float32, m.parameters().First().dtype);
        var embed = m.model.embed_tokens.weight!;
        double std = embed.std().item<float>();
        Assert.InRange(std, 0.018, 0.022);
        Assert.Equal(1f, m.model.layers[0].self_attn!.q_norm!.weight.min().item<float>());
        string firstHash = HfCheckpoint.ModelHash(dir);

        // Same seed, same bytes; another seed, other weights.
        string again = Path.Combine(dir, "again");
        SyntheticCheckpoint.Write("tiny-qwen3", again, DataDirectory.DefaultModel(), seed: 1, ScalarType.BFloat16);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "model.safetensors")), File.ReadAllBytes(Path.Combine(again, "model.safetensors")));
        SyntheticCheckpoint.Write("tiny-qwen3", again, DataDirectory.DefaultModel(), seed: 2, ScalarType.BFloat16);
        Assert.NotEqual(firstHash, HfCheckpoint.ModelHash(again));
    }

    [Fact]
    public void SynthPadsTheTokenizerToALargerVocabulary()
    {
        Directory.CreateDirectory(dir);
        int learned = SyntheticCheckpoint.WriteTokenizer(DataDirectory.DefaultModel(), dir, 10_000, 64);
        Assert.Equal(4096, learned);
        var tokenizer = TokenizerLoader.Load(dir);
        Assert.Equal(10_000, tokenizer.VocabSize);
        var base4096 = TokenizerLoader.Load(DataDirectory.DefaultModel());
        const string text = "The quick brown fox jumps over the lazy dog.";
        Assert.Equal(base4096.Encode(text), tokenizer.Encode(text)); // padding ids are never produced
    }

    [Fact]
    public void RealShapesParseAndHaveThePublishedSizes()
    {
        var counts = ShapeTable.All.ToDictionary(s => s.Name, s => ModelConfig.FromJson(s.Config(), s.Name).TotalParams);
        Assert.Equal(494_032_768, counts["qwen2.5-0.5b"]);    // Qwen2.5-0.5B's published 0.49 B
        Assert.Equal(1_100_048_384, counts["tinyllama-1.1b"]); // TinyLlama's 1.1 B
        Assert.Equal(596_049_920, counts["qwen3-0.6b"]);      // Qwen3-0.6B's 0.6 B (0.44 B without embeddings)
        Assert.Equal(8_030_261_248, counts["llama-3.1-8b"]);  // Llama 3.1 8B's 8.03 B
        Assert.Equal(3_821_079_552, counts["phi-3-mini-4k"]); // Phi-3-mini's 3.8 B
    }
}

/// <summary>The Taylor criterion's memory model: it refuses a pass that cannot fit, before any gradient exists.</summary>
public sealed class TaylorMemoryTests
{
    [Fact]
    public void RefusesAnImpossibleRunBeforeAllocatingGradients()
    {
        var c = ModelConfig.Uniform(vocab: 64, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, maxPositions: 32);
        using var m = LlamaModelTests.Tiny(c);
        var ids = Enumerable.Range(0, 400).Select(i => i * 7 % 64).ToArray();
        var data = CalibrationData.FromTokens(ids, new CalibrationSettings(Sequences: 4, SeqLen: 32), 32);
        var estimate = TaylorCriterion.Estimate(c, 4, 32);
        var criterion = new TaylorCriterion(availableBytes: () => TaylorCriterion.RequiredExtra(estimate) - 1);
        var e = Assert.Throws<UserError>(() => criterion.Score(m, data, "hash"));
        Assert.Contains("taylor importance needs about", e.Message);
        Assert.Contains("GiB are available", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.All(m.parameters(), p => Assert.Null(p.grad));

        // One byte more and it runs.
        var scores = new TaylorCriterion(availableBytes: () => TaylorCriterion.RequiredExtra(estimate)).Score(m, data, "hash");
        Assert.Equal(2, scores.Layers.Length);
    }

    [Fact]
    public void EstimateGrowsAsTheModelAndTheBatchDo()
    {
        var small = ShapeTable.Find("tinyllama-1.1b").Config();
        var c = ModelConfig.FromJson(small, "tinyllama");
        var e = TaylorCriterion.Estimate(c, 4, 256);
        Assert.Equal(c.TotalParams * 4, e.Weights);
        Assert.Equal(e.Weights, e.Gradients);
        Assert.Equal(3L * 4 * 256 * 32000 * 4, e.Logits);
        var twice = TaylorCriterion.Estimate(c, 8, 256);
        Assert.Equal(2 * e.Logits, twice.Logits);
        Assert.Equal(2 * e.Activations, twice.Activations, tolerance: 2);
        // A 70B-class model cannot fit a 24 GiB machine: weights and gradients alone are over 500 GiB.
        var big = c with { HiddenSize = 8192, IntermediateSize = 28672, NumHiddenLayers = 80, NumAttentionHeads = 64, NumKeyValueHeads = 8, HeadDim = 128, VocabSize = 128256 };
        big = big with { Layers = Enumerable.Repeat(big.UniformLayer, 80).ToArray() };
        Assert.True(TaylorCriterion.Estimate(big, 1, 256).Total > 500L << 30);
    }
}
