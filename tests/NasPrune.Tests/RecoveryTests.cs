using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Recovery;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Tests;

public class RecoveryTests : IDisposable
{
    const int Vocab = 50, Seq = 16;
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-rec-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static ModelConfig Config(bool biased = false) => ModelConfig.Uniform(vocab: Vocab, hidden: 32, layers: 2, heads: 4, kvHeads: 2,
        ffn: 48, maxPositions: Seq, tieEmbeddings: !biased, modelType: biased ? "qwen2" : "llama", qkvBias: biased);

    static LlamaForCausalLM Dense(bool biased = false, long seed = 11)
    {
        var m = new LlamaForCausalLM(Config(biased));
        m.InitializeWeights(seed, std: 0.3); // large weights so that every head and channel matters
        if (biased) using (no_grad()) foreach (var (name, p) in m.named_parameters()) if (name.EndsWith(".bias")) p.normal_(0, 0.3);
        m.eval();
        return m;
    }

    /// <summary>Both layers lose heads (one GQA group) and FFN channels.</summary>
    static readonly Architecture Pruned = new("test", [new LayerKeep(true, 2, 24), new LayerKeep(true, 2, 30)]);
    /// <summary>Layer 1 loses its attention entirely, so only its down_proj can be refitted.</summary>
    static readonly Architecture NoAttention = new("test", [new LayerKeep(true, 2, 24), new LayerKeep(true, 0, 30)]);

    static long[][] Windows(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, Seq).Select(_ => (long)random.Next(Vocab)).ToArray()).ToArray();
    }

    static Tensor Logits(LlamaForCausalLM m, long[][] windows)
    {
        using var _ = no_grad();
        var flat = windows.SelectMany(w => w).ToArray();
        using var ids = tensor(flat, [windows.Length, Seq]);
        return m.call(ids).detach();
    }

    static double MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    static Dictionary<string, Tensor> Weights(LlamaForCausalLM m) =>
        m.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    static double MeanNll(LlamaForCausalLM m, long[][] windows)
    {
        using var _ = no_grad();
        using var ids = tensor(windows.SelectMany(w => w).ToArray(), [windows.Length, Seq]);
        var (nll, tokens) = m.NextTokenNll(ids);
        return nll / tokens;
    }

    // ---- PhysicalPruning ----

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExtractMatchesActiveShapes(bool biased)
    {
        using var dense = Dense(biased);
        var windows = Windows(3, 1);
        foreach (var arch in new[] { Pruned, NoAttention, new Architecture("test", [LayerKeep.Dropped, new LayerKeep(true, 4, 7)]) })
        {
            using var small = PhysicalPruning.Extract(dense, arch);
            Assert.Equal(arch.ToConfig(dense.Config).TotalParams, small.parameters().Sum(p => p.numel()));
            Assert.Equal(arch.ToShapes(dense.Config), small.Config.Layers);
            dense.SetActiveShapes(arch.ToShapes(dense.Config));
            using var viewLogits = Logits(dense, windows);
            dense.ResetActiveShapes();
            using var smallLogits = Logits(small, windows);
            Assert.True(MaxDiff(viewLogits, smallLogits) < 1e-5, $"arch {arch.Id}: {MaxDiff(viewLogits, smallLogits)}");
        }
    }

    [Fact]
    public void ExtractActiveCopiesWhatTheForwardUses()
    {
        using var dense = Dense();
        dense.SetActiveShapes(Pruned.ToShapes(dense.Config));
        using var fromActive = PhysicalPruning.ExtractActive(dense);
        using var fromArch = PhysicalPruning.Extract(dense, Pruned);
        var a = Weights(fromActive);
        foreach (var (name, w) in Weights(fromArch)) Assert.True(w.allclose(a[name], 0, 0), name);
        Assert.Throws<UserError>(() => PhysicalPruning.Extract(fromArch, Architecture.Full(dense.Config, "test")));
    }

    // ---- LeastSquaresReconstruction ----

    [Fact]
    public void ReconstructionOfAnUnprunedModelKeepsItsWeights()
    {
        using var dense = Dense();
        using var copy = PhysicalPruning.Extract(dense, Architecture.Full(dense.Config, "test"));
        var report = LeastSquaresReconstruction.Run(dense, copy, Windows(12, 2), new ReconstructionOptions { BatchSize = 5 });

        Assert.Equal(["0.o_proj", "0.down_proj", "1.o_proj", "1.down_proj"], report.Select(r => $"{r.Layer}.{r.Projection}"));
        Assert.All(report, r => Assert.Equal(12L * Seq, r.Tokens));
        Assert.All(report, r => Assert.True(r.ErrorBefore < 1e-10 && r.ErrorAfter < 1e-10, $"{r}"));
        var before = Weights(dense);
        foreach (var (name, w) in Weights(copy))
            Assert.True(MaxDiff(w, before[name]) < 1e-4, $"{name}: {MaxDiff(w, before[name])}");
        var windows = Windows(3, 3);
        using var want = Logits(dense, windows);
        using var got = Logits(copy, windows);
        Assert.True(MaxDiff(want, got) < 1e-4, $"{MaxDiff(want, got)}");
    }

    [Fact]
    public void ReconstructionReducesEveryRefittedBlockOutputError()
    {
        using var dense = Dense();
        using var plain = PhysicalPruning.Extract(dense, Pruned);
        using var refitted = PhysicalPruning.Extract(dense, Pruned);
        var calibration = Windows(16, 4);
        var progress = new List<int>();
        var report = LeastSquaresReconstruction.Run(dense, refitted, calibration, progress: new SyncProgress(progress.Add));

        Assert.Equal([1, 2], progress);
        Assert.Equal(4, report.Count);
        Assert.All(report, r => Assert.True(r.ErrorAfter < r.ErrorBefore, $"{r}"));

        // Independently of the report: in the final model every projection's input is the one it was fitted on
        // (earlier layers, and o_proj before down_proj, were refitted first), so the refitted weight must beat the
        // pruned model's original weight on exactly those inputs.
        var denseInputs = CaptureOutputProjectionInputs(dense, calibration);
        var prunedInputs = CaptureOutputProjectionInputs(refitted, calibration);
        foreach (var r in report)
        {
            string key = $"{r.Layer}.{r.Projection}";
            var denseProjection = Projection(dense, r.Layer, r.Projection);
            using var target = F.linear(denseInputs[key], denseProjection);
            double Error(Tensor weight)
            {
                using var diff = F.linear(prunedInputs[key], weight) - target;
                using var squares = diff.square().sum();
                return squares.item<float>();
            }
            double withRefit = Error(Projection(refitted, r.Layer, r.Projection));
            double without = Error(Projection(plain, r.Layer, r.Projection));
            Assert.True(withRefit < without, $"{key}: {withRefit} vs {without}");
            using var targetSquares = target.square().sum();
            Assert.Equal(r.ErrorAfter, withRefit / targetSquares.item<float>(), 3);
        }
        // Not guaranteed, so only reported: the calibration NLL with and without the refit.
        Console.WriteLine($"calibration NLL: dense {MeanNll(dense, calibration):F4}, pruned {MeanNll(plain, calibration):F4}, refitted {MeanNll(refitted, calibration):F4}");
    }

    [Fact]
    public void ReconstructionOfActiveShapesEqualsReconstructionOfThePhysicalModel()
    {
        using var dense = Dense();
        using var physical = PhysicalPruning.Extract(dense, NoAttention);
        using var viewed = PhysicalPruning.Extract(dense, Architecture.Full(dense.Config, "test"));
        viewed.SetActiveShapes(NoAttention.ToShapes(dense.Config));
        var untouched = Weights(viewed);
        var calibration = Windows(10, 5);
        var physicalReport = LeastSquaresReconstruction.Run(dense, physical, calibration);
        var viewedReport = LeastSquaresReconstruction.Run(dense, viewed, calibration, new ReconstructionOptions { BatchSize = 3 });

        Assert.Equal(["0.o_proj", "0.down_proj", "1.down_proj"], physicalReport.Select(r => $"{r.Layer}.{r.Projection}"));
        Assert.Equal(physicalReport.Select(r => r.ErrorAfter), viewedReport.Select(r => r.ErrorAfter), new Tolerance(1e-5));
        var windows = Windows(3, 6);
        using var a = Logits(physical, windows);
        using var b = Logits(viewed, windows);
        Assert.True(MaxDiff(a, b) < 1e-4, $"{MaxDiff(a, b)}");
        // Only the kept prefix of each refitted weight was written.
        var after = Weights(viewed);
        Assert.True(after["model.layers.0.self_attn.o_proj.weight"].narrow(1, 16, 16).allclose(untouched["model.layers.0.self_attn.o_proj.weight"].narrow(1, 16, 16), 0, 0));
        Assert.True(after["model.layers.1.mlp.down_proj.weight"].narrow(1, 30, 18).allclose(untouched["model.layers.1.mlp.down_proj.weight"].narrow(1, 30, 18), 0, 0));
        Assert.True(after["model.layers.1.self_attn.o_proj.weight"].allclose(untouched["model.layers.1.self_attn.o_proj.weight"], 0, 0));
    }

    [Fact]
    public void InvalidReconstructionInputsAreUserErrors()
    {
        using var dense = Dense();
        using var pruned = PhysicalPruning.Extract(dense, Pruned);
        Assert.Throws<UserError>(() => LeastSquaresReconstruction.Run(dense, pruned, []));
        Assert.Throws<UserError>(() => LeastSquaresReconstruction.Run(dense, pruned, Windows(2, 1), new ReconstructionOptions { Ridge = 0 }));
        Assert.Throws<UserError>(() => LeastSquaresReconstruction.Run(dense, pruned, [new long[3], new long[4]]));
    }

    /// <summary>Each layer's input to o_proj and down_proj over the windows, keyed "layer.projection".</summary>
    static Dictionary<string, Tensor> CaptureOutputProjectionInputs(LlamaForCausalLM m, long[][] windows)
    {
        var captured = new Dictionary<string, Tensor>();
        foreach (var (layer, i) in m.Layers.Select((l, i) => (l, i)))
        {
            if (layer.self_attn is { } attention) attention.OnOutputProjectionInput = x => captured[$"{i}.o_proj"] = x.detach().clone().DetachFromDisposeScope();
            if (layer.mlp is { } mlp) mlp.OnOutputProjectionInput = x => captured[$"{i}.down_proj"] = x.detach().clone().DetachFromDisposeScope();
        }
        Logits(m, windows).Dispose();
        foreach (var layer in m.Layers)
        {
            if (layer.self_attn is { } attention) attention.OnOutputProjectionInput = null;
            if (layer.mlp is { } mlp) mlp.OnOutputProjectionInput = null;
        }
        return captured;
    }

    static Tensor Projection(LlamaForCausalLM m, int layer, string name) => name == "o_proj"
        ? m.Layers[layer].self_attn!.o_proj.weight!.detach()
        : m.Layers[layer].mlp!.down_proj.weight!.detach();

    // ---- LoRA ----

    static LoraOptions QuickLora => new() { Steps = 25, BatchSize = 4, SeqLen = Seq, LearningRate = 1e-2, WarmupSteps = 0, Dropout = 0, Seed = 3 };

    /// <summary>A short sequence repeated: easy to learn, so a few steps must lower the loss.</summary>
    static int[] RepetitiveStream() => Enumerable.Range(0, 400).Select(i => new[] { 3, 17, 5, 42, 8, 23, 11 }[i % 7]).ToArray();

    [Fact]
    public void MergedAdaptersGiveTheAdapterForwardWithoutExtraParameters()
    {
        using var dense = Dense(biased: true);
        using var model = PhysicalPruning.Extract(dense, Pruned);
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var windows = Windows(3, 7);
        using var plain = Logits(model, windows);
        using var adapters = LoraAdapterSet.Attach(model, new LoraOptions());
        Assert.Equal(2 * 7, adapters.Adapters.Count);
        Assert.Equal(2 * 7 * 2, adapters.Parameters.Count);
        using (var untrained = Logits(model, windows)) Assert.True(untrained.allclose(plain, 0, 0)); // B = 0: the adapters start as a no-op
        using (no_grad()) foreach (var a in adapters.Adapters) a.B.normal_(0, 0.2);
        using var adapted = Logits(model, windows);
        Assert.True(MaxDiff(adapted, plain) > 1e-2);
        adapters.MergeAndDetach();
        using var merged = Logits(model, windows);
        Assert.True(MaxDiff(merged, adapted) < 1e-4, $"{MaxDiff(merged, adapted)}");
        Assert.Equal(shapes.Keys, model.named_parameters().Select(p => p.name));
        Assert.All(model.named_parameters(), p => Assert.Equal(shapes[p.name], p.parameter.shape));
        Assert.Equal(model.Config.TotalParams, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void LoraStepsLowerTheTrainingLossAndTheResultSavesAsACheckpoint()
    {
        using var dense = Dense();
        using var model = PhysicalPruning.Extract(dense, Pruned);
        var stream = RepetitiveStream();
        var windows = PerplexityWindows(stream);
        double before = MeanNll(model, windows);
        var progress = new List<int>();
        var curve = LoraRecovery.Run(model, stream, QuickLora, new SyncProgress(progress.Add));

        Assert.Equal(Enumerable.Range(1, 25), curve.Select(p => p.Step));
        Assert.Equal(Enumerable.Range(1, 25), progress);
        double last = curve.TakeLast(5).Average(p => p.Loss);
        Assert.True(last < 0.8 * curve[0].Loss, $"loss {curve[0].Loss} -> {last}");
        double after = MeanNll(model, windows); // the merged model, without adapters
        Assert.True(after < 0.8 * before, $"NLL {before} -> {after}");
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad)); // unfrozen again
        Assert.False(model.training);

        HfCheckpoint.SaveModel(model, dir);
        using var loaded = HfCheckpoint.LoadModel(dir);
        using var a = Logits(model, windows);
        using var b = Logits(loaded, windows);
        Assert.True(a.allclose(b, 0, 0));
    }

    [Fact]
    public void LoraWithZeroStepsLeavesTheModelUnchanged()
    {
        using var dense = Dense();
        using var model = PhysicalPruning.Extract(dense, Pruned);
        var before = Weights(model);
        var curve = LoraRecovery.Run(model, RepetitiveStream(), QuickLora with { Steps = 0 });
        Assert.Empty(curve);
        foreach (var (name, w) in Weights(model)) Assert.True(w.allclose(before[name], 0, 0), name);
    }

    [Fact]
    public void LoraOnActiveShapesEqualsLoraOnThePhysicalModel()
    {
        using var dense = Dense();
        using var physical = PhysicalPruning.Extract(dense, NoAttention);
        using var viewed = PhysicalPruning.Extract(dense, Architecture.Full(dense.Config, "test"));
        viewed.SetActiveShapes(NoAttention.ToShapes(dense.Config));
        var untouched = Weights(viewed);
        var options = QuickLora with { Steps = 5, Dropout = 0.1 };
        var physicalCurve = LoraRecovery.Run(physical, RepetitiveStream(), options);
        var viewedCurve = LoraRecovery.Run(viewed, RepetitiveStream(), options);

        Assert.Equal(physicalCurve.Select(p => p.Loss), viewedCurve.Select(p => p.Loss), new Tolerance(1e-4));
        var windows = Windows(3, 8);
        using var a = Logits(physical, windows);
        using var b = Logits(viewed, windows);
        Assert.True(MaxDiff(a, b) < 1e-4, $"{MaxDiff(a, b)}");
        // Outside the active prefix nothing changed (layer 1's attention is inactive, so untouched entirely).
        var after = Weights(viewed);
        Assert.True(after["model.layers.0.self_attn.q_proj.weight"].narrow(0, 16, 16).allclose(untouched["model.layers.0.self_attn.q_proj.weight"].narrow(0, 16, 16), 0, 0));
        Assert.True(after["model.layers.0.mlp.down_proj.weight"].narrow(1, 24, 24).allclose(untouched["model.layers.0.mlp.down_proj.weight"].narrow(1, 24, 24), 0, 0));
        Assert.True(after["model.layers.1.self_attn.q_proj.weight"].allclose(untouched["model.layers.1.self_attn.q_proj.weight"], 0, 0));
        Assert.False(after["model.layers.1.mlp.up_proj.weight"].allclose(untouched["model.layers.1.mlp.up_proj.weight"], 0, 0));
    }

    [Fact]
    public void InvalidLoraOptionsAreUserErrors()
    {
        using var dense = Dense();
        using var model = PhysicalPruning.Extract(dense, Pruned);
        var before = Weights(model);
        var stream = RepetitiveStream();
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, stream, QuickLora with { Rank = 0 }));
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, stream, QuickLora with { Steps = -1 }));
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, stream, QuickLora with { Alpha = 0 }));
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, stream, QuickLora with { Dropout = 1 }));
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, stream, QuickLora with { SeqLen = Seq + 1 }));
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, stream[..Seq], QuickLora));
        Assert.Throws<UserError>(() => LoraRecovery.Run(model, [.. stream, Vocab], QuickLora));
        foreach (var (name, w) in Weights(model)) Assert.True(w.allclose(before[name], 0, 0), name);
    }

    static long[][] PerplexityWindows(int[] stream) => PerplexityEvaluator.Windows(stream, Seq);

    /// <summary>Progress that reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }

    sealed class Tolerance(double eps) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= eps * Math.Max(1, Math.Abs(b));
        public int GetHashCode(double obj) => 0;
    }
}
