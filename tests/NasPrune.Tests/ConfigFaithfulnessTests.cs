using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// The model computed is the model config.json describes: every field that changes the computation is either
/// computed (checked against the formula reference) or refused with one line naming config.json and the field.
/// </summary>
public sealed class ConfigFaithfulnessTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-faithful-" + Guid.NewGuid().ToString("N"));
    static readonly int[] Ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static ModelConfig Small(string modelType = "llama") => TestModels.SmallConfig(modelType);

    string ConfigPath => Path.Combine(dir, HfCheckpoint.ConfigFile);

    /// <summary>Reads a config.json that is <paramref name="baseConfig"/>'s with the fields of <paramref name="fields"/> set (JSON null included).</summary>
    ModelConfig LoadWith(string fields, ModelConfig? baseConfig = null)
    {
        var j = (baseConfig ?? Small()).ToJson();
        foreach (var (key, value) in JsonNode.Parse(fields)!.AsObject()) j[key] = value?.DeepClone();
        Directory.CreateDirectory(dir);
        File.WriteAllText(ConfigPath, j.ToJsonString());
        return HfCheckpoint.LoadConfig(dir);
    }

    static Tensor Logits(LlamaForCausalLM m, int[] ids)
    {
        using var _ = no_grad();
        return m.call(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]));
    }

    static void AssertOneLineNaming(UserError e, params string[] expected)
    {
        Assert.Contains("config.json", e.Message);
        foreach (var s in expected) Assert.Contains(s, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    // ---- hidden_act ----

    [Theory]
    [InlineData("silu")]
    [InlineData("swish")]
    [InlineData("gelu")]
    [InlineData("gelu_pytorch_tanh")]
    [InlineData("gelu_new")]
    [InlineData("relu")]
    public void EachHiddenActIsComputedAndKeptThroughSaveAndLoad(string act)
    {
        using var m = LlamaModelTests.Tiny(Small() with { HiddenAct = act });
        HfCheckpoint.SaveModel(m, dir);
        Assert.Equal(act, JsonNode.Parse(File.ReadAllText(ConfigPath))!["hidden_act"]!.GetValue<string>());
        using var loaded = HfCheckpoint.LoadModel(dir);
        Assert.Equal(act, loaded.Config.HiddenAct);
        LlamaModelTests.AssertLogitsMatchReference(loaded, Ids);
    }

    [Fact]
    public void HiddenActChangesTheLogits()
    {
        var logits = HiddenActivation.Supported.ToDictionary(a => a, a =>
        {
            using var m = LlamaModelTests.Tiny(Small() with { HiddenAct = a });
            return Logits(m, Ids);
        });
        Assert.True(logits["silu"].allclose(logits["swish"], 0, 0));
        Assert.True(logits["gelu_new"].allclose(logits["gelu_pytorch_tanh"], 0, 0));
        string[] distinct = ["silu", "gelu", "gelu_pytorch_tanh", "relu"];
        foreach (var a in distinct)
            foreach (var b in distinct.Where(b => b != a))
                Assert.False(logits[a].allclose(logits[b], rtol: 0, atol: 1e-6), $"{a} and {b} give the same logits");
    }

    [Fact]
    public void ActivationFunctionsMatchTheirFormulasPointwise()
    {
        var xs = Enumerable.Range(-24, 49).Select(i => i * 0.25).ToArray(); // -6 .. 6
        using var x = tensor(xs, ScalarType.Float64);
        foreach (var name in HiddenActivation.Supported)
        {
            using var y = Activations.For(name)(x);
            var got = y.data<double>().ToArray();
            for (int i = 0; i < xs.Length; i++)
                Assert.True(Math.Abs(got[i] - ReferenceDecoder.Activation(name, xs[i])) < 1e-7, $"{name}({xs[i]}) = {got[i]}");
        }
        // The exact and the tanh GELU differ by more than the tolerance, so the comparison above tells them apart.
        Assert.True(xs.Max(v => Math.Abs(ReferenceDecoder.Activation("gelu", v) - ReferenceDecoder.Activation("gelu_new", v))) > 1e-4);
    }

    [Theory]
    [InlineData("quick_gelu")]
    [InlineData("tanh")]
    public void UncomputedHiddenActIsRefused(string act)
    {
        var e = Assert.Throws<UserError>(() => LoadWith($"{{\"hidden_act\": \"{act}\"}}"));
        AssertOneLineNaming(e, "hidden_act", act);
    }

    // ---- sliding window ----

    [Fact]
    public void SlidingWindowCoveringTheSequenceGivesTheSameLogits()
    {
        using var plain = LlamaModelTests.Tiny(Small("mistral"));
        using var windowed = LlamaModelTests.Tiny(Small("mistral") with { SlidingWindow = new SlidingWindow(Ids.Length, 0) });
        Assert.True(Logits(plain, Ids).allclose(Logits(windowed, Ids), 0, 0));
        // Mistral 7B's window with a longer context than the window: accepted (the old loader refused it).
        var c = LoadWith("{\"max_position_embeddings\": 32768, \"sliding_window\": 4096}", Small("mistral"));
        Assert.Equal(new SlidingWindow(4096, 0), c.SlidingWindow);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ShorterSlidingWindowMasksAsHuggingFaceDoes(int window)
    {
        using var plain = LlamaModelTests.Tiny(Small("mistral"));
        using var m = LlamaModelTests.Tiny(Small("mistral") with { SlidingWindow = new SlidingWindow(window, 0) });
        LlamaModelTests.AssertLogitsMatchReference(m, Ids);
        var a = Logits(plain, Ids);
        var b = Logits(m, Ids);
        // Positions inside the window see the same prefix; the first position beyond it does not.
        Assert.True(a.narrow(1, 0, window).allclose(b.narrow(1, 0, window), rtol: 1e-5, atol: 1e-5));
        Assert.False(a.narrow(1, window, 1).allclose(b.narrow(1, window, 1), rtol: 1e-3, atol: 1e-3));
    }

    [Fact]
    public void Qwen2SlidesOnlyFromMaxWindowLayersAndOnlyWhenUseSlidingWindow()
    {
        Assert.Null(LoadWith("{\"use_sliding_window\": false, \"sliding_window\": 2}", Small("qwen2")).SlidingWindow);
        var c = LoadWith("{\"use_sliding_window\": true, \"sliding_window\": 2, \"max_window_layers\": 1}", Small("qwen2"));
        Assert.Equal(new SlidingWindow(2, 1), c.SlidingWindow);
        Assert.Null(c.AttentionWindow(0));
        Assert.Equal(2, c.AttentionWindow(1));
        using var m = LlamaModelTests.Tiny(c);
        LlamaModelTests.AssertLogitsMatchReference(m, Ids);
        var types = LoadWith("{\"use_sliding_window\": true, \"sliding_window\": 2, \"layer_types\": [\"full_attention\", \"sliding_attention\"]}", Small("qwen2"));
        Assert.Equal(new SlidingWindow(2, 1), types.SlidingWindow);
        // Qwen2Config's default max_window_layers (28) lies beyond these two layers: no layer slides.
        Assert.Null(LoadWith("{\"use_sliding_window\": true, \"sliding_window\": 2}", Small("qwen2")).SlidingWindow);
    }

    [Fact]
    public void SlidingWindowFieldsReadAsHuggingFaceReadsThem()
    {
        var mistral = Small("mistral").ToJson();
        mistral.Remove("sliding_window");
        Directory.CreateDirectory(dir);
        File.WriteAllText(ConfigPath, mistral.ToJsonString());
        Assert.Equal(new SlidingWindow(4096, 0), HfCheckpoint.LoadConfig(dir).SlidingWindow); // MistralConfig's default
        Assert.Null(LoadWith("{\"sliding_window\": null}", Small("mistral")).SlidingWindow);
        Assert.Null(LoadWith("{\"sliding_window\": 2}").SlidingWindow); // LlamaModel has no sliding window
        var e = Assert.Throws<UserError>(() => LoadWith(
            "{\"use_sliding_window\": true, \"sliding_window\": 2, \"layer_types\": [\"sliding_attention\", \"full_attention\"]}", Small("qwen2")));
        AssertOneLineNaming(e, "layer_types");
        AssertOneLineNaming(Assert.Throws<UserError>(() => LoadWith("{\"sliding_window\": 0}", Small("mistral"))), "sliding_window");
    }

    [Theory]
    [InlineData("mistral", null, 0)]
    [InlineData("mistral", 3, 0)]
    [InlineData("qwen2", 3, 1)]
    public void SlidingWindowSurvivesSaveAndLoad(string modelType, int? size, int firstLayer)
    {
        var c = Small(modelType) with { SlidingWindow = size is int s ? new SlidingWindow(s, firstLayer) : null };
        using (var m = LlamaModelTests.Tiny(c)) HfCheckpoint.SaveModel(m, dir);
        using var loaded = HfCheckpoint.LoadModel(dir);
        Assert.Equal(c.SlidingWindow, loaded.Config.SlidingWindow);
    }

    // ---- RoPE ----

    [Fact]
    public void DynamicRopeIsTheUnscaledRotationWithinMaxPositionsAndRefusedBeyond()
    {
        var c = LoadWith("{\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}}");
        Assert.Equal("dynamic", c.RopeScaling!.Type);
        using var plain = LlamaModelTests.Tiny(Small());
        using var dynamic = LlamaModelTests.Tiny(c);
        Assert.True(Logits(plain, Ids).allclose(Logits(dynamic, Ids), 0, 0));
        var tooLong = Enumerable.Range(0, c.MaxPositionEmbeddings + 1).Select(i => i % c.VocabSize).ToArray();
        AssertOneLineNaming(Assert.Throws<UserError>(() => Logits(dynamic, tooLong)), "max_position_embeddings", "dynamic");
    }

    [Fact]
    public void RopeParametersOfTransformers5AreRead()
    {
        var c = LoadWith("{\"rope_theta\": null, \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 500.0}}");
        Assert.Equal(500, c.RopeTheta);
        Assert.Equal(new RopeScaling("linear", 2), c.RopeScaling);
    }

    // ---- refused fields, types and ranges ----

    [Theory]
    [InlineData("{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}}", "rope_scaling", "yarn")]
    [InlineData("{\"rope_scaling\": {\"rope_type\": \"longrope\", \"factor\": 4.0}}", "rope_scaling", "longrope")]
    [InlineData("{\"rope_scaling\": {\"rope_type\": \"linear\"}}", "rope_scaling", "factor")]
    [InlineData("{\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\"}}}", "rope_parameters")]
    [InlineData("{\"final_logit_softcapping\": 30.0}", "final_logit_softcapping")]
    [InlineData("{\"attn_logit_softcapping\": 50.0}", "attn_logit_softcapping")]
    [InlineData("{\"logit_scale\": 0.0625}", "logit_scale")]
    [InlineData("{\"partial_rotary_factor\": 0.5}", "partial_rotary_factor")]
    [InlineData("{\"qk_layernorm\": true}", "qk_layernorm")]
    [InlineData("{\"num_local_experts\": 8}", "num_local_experts")]
    [InlineData("{\"num_hidden_layers\": -2}", "num_hidden_layers")]
    [InlineData("{\"head_dim\": -8}", "head_dim")]
    [InlineData("{\"head_dim\": 5}", "head_dim")]
    [InlineData("{\"hidden_size\": 18, \"head_dim\": null}", "hidden_size")]
    [InlineData("{\"rms_norm_eps\": -1e-6}", "rms_norm_eps")]
    [InlineData("{\"tie_word_embeddings\": \"yes\"}", "tie_word_embeddings")]
    [InlineData("{\"mlp_bias\": 1}", "mlp_bias")]
    [InlineData("{\"max_position_embeddings\": 0}", "max_position_embeddings")]
    [InlineData("{\"rope_theta\": -1.0}", "rope_theta")]
    public void UncomputedOrMalformedFieldIsOneLineNamingIt(string fields, params string[] expected)
    {
        AssertOneLineNaming(Assert.Throws<UserError>(() => LoadWith(fields)), expected);
    }

    [Fact]
    public void FieldsWithoutEffectAreAccepted()
    {
        var c = LoadWith("{\"partial_rotary_factor\": 1.0, \"logit_scale\": 1, \"final_logit_softcapping\": null, " +
                         "\"pretraining_tp\": 2, \"attention_dropout\": 0.1, \"num_experts\": 0, \"qk_layernorm\": false, " +
                         "\"rope_scaling\": {\"rope_type\": \"default\"}}");
        Assert.Equal(Small() with { Layers = c.Layers }, c);
    }
}
