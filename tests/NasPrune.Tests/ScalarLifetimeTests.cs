using NasPrune.Evaluator.Generation;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// TorchSharp passes a Scalar's native handle to libtorch without keeping the Scalar alive, and does not track Scalars
/// in dispose scopes, so a temporary Scalar (an implicit conversion; TorchSharp's own square() = pow(2); the alpha of 1
/// that <c>a + b</c> and add_(s) make) can be finalized while libtorch reads it (see KeptScalars). CI and a long
/// campaign crashed that way. These tests run the hot paths thousands of times while another thread collects garbage
/// and runs finalizers without pause: a temporary Scalar in them fails within a few thousand calls (x.square() alone
/// within ~10⁴), and every result must equal the one computed before the stress began.
/// </summary>
[Collection(GcStressCollection.Name)]
public sealed class ScalarLifetimeTests
{
    const int Calls = 4000;

    /// <summary>Runs <paramref name="body"/> <paramref name="calls"/> times while a second thread collects and finalizes continuously.</summary>
    static void UnderConstantCollection(int calls, Action body)
    {
        bool stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop)) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        });
        collector.Start();
        try { for (int i = 0; i < calls; i++) body(); }
        finally { Volatile.Write(ref stop, true); collector.Join(); }
    }

    [Fact]
    public void RmsNormSurvivesConstantCollection()
    {
        using var norm = new RmsNorm(64, 1e-5);
        using var x = randn(4, 64, generator: new TorchSharp.torch.Generator(3));
        float[] expected;
        using (var y = norm.call(x)) expected = y.data<float>().ToArray();
        UnderConstantCollection(Calls, () =>
        {
            using var y = norm.call(x);
            Assert.Equal(expected, y.data<float>().ToArray());
        });
    }

    [Theory]
    [InlineData("silu")]
    [InlineData("gelu_pytorch_tanh")]
    public void TheModelsNllSurvivesConstantCollection(string activation)
    {
        var config = TestModels.SmallConfig() with { HiddenAct = activation };
        using var model = TestModels.Tiny(config);
        using var _ = inference_mode();
        using var ids = tensor(new long[] { 1, 5, 2, 7, 3, 9, 4, 11 }, [1, 8]);
        var expected = model.NextTokenNll(ids);
        UnderConstantCollection(Calls / 4, () => Assert.Equal(expected, model.NextTokenNll(ids)));
    }

    [Fact]
    public void FusedDecodingSurvivesConstantCollection()
    {
        using var model = TestModels.Tiny(TestModels.SmallConfig());
        using var _ = inference_mode();
        int[] prompt = [1, 5, 2, 7, 3, 9, 4, 11, 6, 8, 10, 12];
        float[] Decode()
        {
            using var decoder = new FusedDecoder(model);
            using var cache = new KvCache(model, batch: 1, capacity: prompt.Length);
            float[] last = [];
            foreach (int token in prompt)
            {
                using var logits = decoder.NextTokenLogits(token, cache);
                last = logits.data<float>().ToArray();
            }
            return last;
        }
        var expected = Decode();
        UnderConstantCollection(Calls / prompt.Length, () => Assert.Equal(expected, Decode()));
    }

    [Fact]
    public void TheKlTailMassSurvivesConstantCollection()
    {
        using var logP = randn(6, 13, generator: new TorchSharp.torch.Generator(5)).log_softmax(1);
        using var ids = tensor(new long[] { 0, 1, 2, 3, 4, 5 }, [6, 1]);
        float[] expected;
        using (var tail = KlDivergence.TailLogMass(logP, ids)) expected = tail.data<float>().ToArray();
        UnderConstantCollection(Calls, () =>
        {
            using var tail = KlDivergence.TailLogMass(logP, ids);
            Assert.Equal(expected, tail.data<float>().ToArray());
        });
    }
}

/// <summary>
/// The stress tests run alone, after the parallel test classes: their collecting thread multiplies finalizations in the
/// whole process, and would also stress code of other classes that is not theirs to test (TorchSharp's own optimizers
/// make temporary Scalars that this project cannot keep alive).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GcStressCollection
{
    public const string Name = "GC stress";
}
