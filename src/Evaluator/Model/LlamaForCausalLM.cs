using NasPrune.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Model;

// A LLaMA-family decoder (LLaMA, Mistral, Qwen2, Qwen3, Phi-3) computed exactly as Hugging Face's LlamaForCausalLM computes
// it, with one difference that is the point of this project: every layer has its own number of attention
// heads and FFN channels, and may be absent. Module and field names match the Hugging Face checkpoint
// ("model.layers.3.self_attn.q_proj.weight"), so a state dict is a checkpoint.
//
// Each layer also has an *active* shape, at most its stored shape. The forward pass uses only the first
// active heads/channels, through views (narrow) of the stored weights: a pruning candidate whose heads and
// channels are a prefix of an importance-sorted layer is applied without copying anything, and the pruned
// forward really does fewer FLOPs.

/// <summary>Root-mean-square layer norm, computed in float32 as Hugging Face's LlamaRMSNorm does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly double eps;

    public RmsNorm(int dim, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(dim));
        this.eps = eps;
        register_parameter(nameof(weight), weight);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // No temporary Scalars (see KeptScalars): the square is input * input, not square() (= pow(2)); ε lives in a
        // `using` local until this call returns, and its add passes a kept alpha.
        using var epsilon = eps.ToScalar();
        var input = x.to_type(ScalarType.Float32);
        var normed = input * rsqrt((input * input).mean([-1L], keepdim: true).PlusInPlace(epsilon));
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Rotary position embedding tables (cos, sin) of shape [positions, head_dim], in Hugging Face's rotate-half
/// layout: the frequencies are repeated, not interleaved. Supports rope_scaling "linear", "llama3" and
/// "dynamic" (unscaled within max_position_embeddings, the only positions computed).
/// </summary>
public static class Rotary
{
    public static double[] InverseFrequencies(ModelConfig c)
    {
        int half = c.HeadDim / 2;
        var inv = new double[half];
        for (int i = 0; i < half; i++) inv[i] = 1.0 / Math.Pow(c.RopeTheta, 2.0 * i / c.HeadDim);
        if (c.RopeScaling is not { } s) return inv;
        if (s.Type == "linear") return inv.Select(f => f / s.Factor).ToArray();
        // Dynamic NTK only rescales sequences longer than max_position_embeddings, which the model refuses.
        if (s.Type != "llama3") return inv;
        // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between interpolated.
        double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        return inv.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / s.Factor;
            double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            return (1 - smooth) * f / s.Factor + smooth * f;
        }).ToArray();
    }

    public static (Tensor Cos, Tensor Sin) Tables(ModelConfig c, int positions, Device device)
    {
        using var scope = NewDisposeScope();
        var inv = tensor(InverseFrequencies(c).Select(f => (float)f).ToArray());
        var pos = arange(positions, dtype: ScalarType.Float32);
        var freqs = outer(pos, inv);
        var emb = cat([freqs, freqs], dim: -1);
        return (emb.cos().to(device).MoveToOuterDisposeScope(), emb.sin().to(device).MoveToOuterDisposeScope());
    }

    /// <summary>x * cos + rotate_half(x) * sin, with rotate_half(x) = cat(-x2, x1).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], dim: -1);
        return (x * cos).PlusInPlace(rotated * sin).MoveToOuterDisposeScope();
    }
}

/// <summary>Grouped-query self-attention whose number of heads is the layer's own.</summary>
public sealed class LlamaAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public readonly Linear q_proj, k_proj, v_proj, o_proj;
    /// <summary>Qwen3's RMSNorm over head_dim of each query / key head (one weight for all heads), before RoPE; null elsewhere.</summary>
    public readonly RmsNorm? q_norm, k_norm;
    readonly int headDim, groupSize;
    /// <summary>Sliding-window size of this layer (Mistral, Qwen2), or null for the whole causal prefix.</summary>
    readonly int? window;
    public int StoredHeads { get; }
    public int ActiveHeads { get; set; }

    /// <summary>
    /// Optional observer of o_proj's input, the merged per-head attention output [batch, seq, active heads ·
    /// head_dim]: importance criteria score heads from it, output-projection reconstruction fits o_proj on it.
    /// The tensor belongs to the forward pass: read it, do not keep it. Null costs one null check.
    /// </summary>
    public Action<Tensor>? OnOutputProjectionInput { get; set; }

    /// <summary>Optional extra terms on the projections' outputs, keyed "q_proj".."o_proj" (LoRA adapters).</summary>
    public IReadOnlyDictionary<string, ProjectionDelta>? ProjectionDeltas { get; set; }

    public LlamaAttention(ModelConfig c, LayerShape shape, int? window) : base(nameof(LlamaAttention))
    {
        headDim = c.HeadDim;
        this.window = window;
        groupSize = c.GroupSize;
        StoredHeads = ActiveHeads = shape.Heads;
        q_proj = nn.Linear(c.HiddenSize, shape.Heads * headDim, hasBias: c.QkvBias);
        k_proj = nn.Linear(c.HiddenSize, shape.KvHeads * headDim, hasBias: c.QkvBias);
        v_proj = nn.Linear(c.HiddenSize, shape.KvHeads * headDim, hasBias: c.QkvBias);
        o_proj = nn.Linear(shape.Heads * headDim, c.HiddenSize, hasBias: c.OutputBias);
        if (c.QkNorm)
        {
            q_norm = new RmsNorm(headDim, c.RmsNormEps);
            k_norm = new RmsNorm(headDim, c.RmsNormEps);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => Forward(x, cos, sin, null, 0);

    /// <summary>
    /// Attention of tokens at positions start.. over themselves and, with a <paramref name="cache"/>, over the
    /// <paramref name="start"/> tokens cached before them (their keys and values are appended to it).
    /// </summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache.Layer? cache, int start)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], seq = x.shape[1];
        int heads = ActiveHeads, kvHeads = ActiveHeads / groupSize;
        var q = Project(x, q_proj, "q_proj", heads).view(batch, seq, heads, headDim).transpose(1, 2);
        var k = Project(x, k_proj, "k_proj", kvHeads).view(batch, seq, kvHeads, headDim).transpose(1, 2);
        var v = Project(x, v_proj, "v_proj", kvHeads).view(batch, seq, kvHeads, headDim).transpose(1, 2);
        if (q_norm is not null) (q, k) = (q_norm.call(q), k_norm!.call(k));
        var c = cos.narrow(0, start, seq);
        var s = sin.narrow(0, start, seq);
        q = Rotary.Apply(q, c, s);
        k = Rotary.Apply(k, c, s);
        if (cache is not null)
        {
            cache.Keys.narrow(2, start, seq).copy_(k);
            cache.Values.narrow(2, start, seq).copy_(v);
            k = cache.Keys.narrow(2, 0, start + seq);
            v = cache.Values.narrow(2, 0, start + seq);
        }
        if (groupSize > 1)
        {
            k = k.repeat_interleave(groupSize, dim: 1);
            v = v.repeat_interleave(groupSize, dim: 1);
        }
        // Positional arguments: TorchSharp spells the causal flag "is_casual". Its causal mask is aligned to the
        // top left, right only without a cached prefix; one new token sees everything; otherwise query i sees keys
        // up to start + i. A sliding window shorter than the keys also hides keys more than window − 1 behind.
        bool windowed = window is int w && w < start + seq;
        var attended = !windowed && start == 0 ? F.scaled_dot_product_attention(q, k, v, null, 0.0, true)
            : !windowed && seq == 1 ? F.scaled_dot_product_attention(q, k, v, null, 0.0, false)
            : F.scaled_dot_product_attention(q, k, v, AttentionMask(seq, start, windowed ? window : null, x.device), 0.0, false);
        var merged = attended.transpose(1, 2).reshape(batch, seq, heads * headDim);
        OnOutputProjectionInput?.Invoke(merged);
        var outWeight = o_proj.weight!.narrow(1, 0, heads * headDim);
        var output = F.linear(merged, outWeight, o_proj.bias);
        return ProjectionDeltas.AddTo(output, "o_proj", merged).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [seq, start + seq] booleans: query i (position start + i) may attend to key j when j ≤ start + i and, with a
    /// window, start + i − j &lt; window (Hugging Face's sliding_window_overlay).
    /// </summary>
    static Tensor AttentionMask(long seq, int start, int? window, Device device)
    {
        var allowed = ones(seq, start + seq, dtype: ScalarType.Bool, device: device);
        var causal = allowed.tril(start);
        return window is int w ? causal.logical_and(allowed.triu(start - (w - 1))) : causal;
    }

    Tensor Project(Tensor x, Linear proj, string name, int heads)
    {
        long rows = (long)heads * headDim;
        var y = F.linear(x, proj.weight!.narrow(0, 0, rows), proj.bias?.narrow(0, 0, rows));
        return ProjectionDeltas.AddTo(y, name, x);
    }
}

/// <summary>Gated feed-forward: down(act(gate(x)) * up(x)) with config.json's hidden_act (SwiGLU for silu), over the layer's active channels.</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj, up_proj, down_proj;
    public int StoredChannels { get; }
    public int ActiveChannels { get; set; }
    readonly Func<Tensor, Tensor> activation;

    /// <summary>
    /// Optional observer of down_proj's input, act(gate) · up over the active channels [batch, seq, channels]:
    /// importance criteria score channels from it, output-projection reconstruction fits down_proj on it.
    /// The tensor belongs to the forward pass: read it, do not keep it. Null costs one null check.
    /// </summary>
    public Action<Tensor>? OnOutputProjectionInput { get; set; }

    /// <summary>Optional extra terms on the projections' outputs, keyed "gate_proj", "up_proj", "down_proj" (LoRA adapters).</summary>
    public IReadOnlyDictionary<string, ProjectionDelta>? ProjectionDeltas { get; set; }

    public LlamaMlp(ModelConfig c, int channels) : base(nameof(LlamaMlp))
    {
        StoredChannels = ActiveChannels = channels;
        activation = Activations.For(c.HiddenAct);
        gate_proj = nn.Linear(c.HiddenSize, channels, hasBias: c.MlpBias);
        up_proj = nn.Linear(c.HiddenSize, channels, hasBias: c.MlpBias);
        down_proj = nn.Linear(channels, c.HiddenSize, hasBias: c.MlpBias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = ActiveChannels;
        var gate = F.linear(x, gate_proj.weight!.narrow(0, 0, n), gate_proj.bias?.narrow(0, 0, n));
        var up = F.linear(x, up_proj.weight!.narrow(0, 0, n), up_proj.bias?.narrow(0, 0, n));
        gate = ProjectionDeltas.AddTo(gate, "gate_proj", x);
        up = ProjectionDeltas.AddTo(up, "up_proj", x);
        var hidden = activation(gate) * up;
        OnOutputProjectionInput?.Invoke(hidden);
        var output = F.linear(hidden, down_proj.weight!.narrow(1, 0, n), down_proj.bias);
        return ProjectionDeltas.AddTo(output, "down_proj", hidden).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// One pre-norm decoder block. Its attention and MLP exist only if the layer's shape has heads / channels;
/// an absent block is the identity on the residual stream, exactly as a removed block would be.
/// </summary>
public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public readonly RmsNorm? input_layernorm, post_attention_layernorm;
    public readonly LlamaAttention? self_attn;
    public readonly LlamaMlp? mlp;
    public LayerShape StoredShape { get; }
    readonly int groupSize;
    /// <summary>False skips the layer at run time (a candidate that drops it) without touching its weights.</summary>
    public bool Active { get; set; } = true;

    /// <summary>
    /// Observer of the residual stream around an active layer: (input, output), both [batch, seq, hidden], for
    /// layer-importance measures such as block influence. The tensors belong to the forward pass: read them, do not
    /// keep them. Null (the default) costs one null check per forward.
    /// </summary>
    public Action<Tensor, Tensor>? ResidualHook { get; set; }

    public LlamaDecoderLayer(ModelConfig c, LayerShape shape, int? attentionWindow) : base(nameof(LlamaDecoderLayer))
    {
        StoredShape = shape;
        groupSize = c.GroupSize;
        if (shape.HasAttention)
        {
            input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
            self_attn = new LlamaAttention(c, shape, attentionWindow);
        }
        if (shape.HasMlp)
        {
            post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
            mlp = new LlamaMlp(c, shape.Ffn);
        }
        RegisterComponents();
    }

    /// <summary>The shape the forward pass uses now.</summary>
    public LayerShape ActiveShape
    {
        get
        {
            int heads = Active ? self_attn?.ActiveHeads ?? 0 : 0;
            int ffn = Active ? mlp?.ActiveChannels ?? 0 : 0;
            if (heads == 0 && ffn == 0) return LayerShape.Dropped;
            return new LayerShape(true, heads, heads / groupSize, ffn);
        }
    }

    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => Forward(x, cos, sin, null, 0);

    /// <summary>The layer on tokens at positions start.., attending also to a cache's earlier tokens when given one.</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache.Layer? cache, int start)
    {
        if (!Active) return x.alias();
        using var scope = NewDisposeScope();
        var h = x;
        if (self_attn is not null && self_attn.ActiveHeads > 0)
            h = h.Plus(self_attn.Forward(input_layernorm!.call(h), cos, sin, cache, start));
        if (mlp is not null && mlp.ActiveChannels > 0)
            h = h.Plus(mlp.call(post_attention_layernorm!.call(h)));
        ResidualHook?.Invoke(x, h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>The decoder stack: embeddings, layers, final norm ("model." in Hugging Face names).</summary>
public sealed class LlamaModel : nn.Module<Tensor, Tensor>
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<LlamaDecoderLayer> layers;
    public readonly RmsNorm norm;
    readonly ModelConfig config;
    Tensor cos, sin;

    public LlamaModel(ModelConfig c) : base(nameof(LlamaModel))
    {
        config = c;
        embed_tokens = nn.Embedding(c.VocabSize, c.HiddenSize);
        layers = nn.ModuleList(c.Layers.Select((shape, i) => new LlamaDecoderLayer(c, shape, c.AttentionWindow(i))).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        (cos, sin) = Rotary.Tables(c, c.MaxPositionEmbeddings, CPU);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds) => Forward(inputIds, null);

    /// <summary>
    /// Final hidden states of token ids [batch, seq]; with a <paramref name="cache"/>, the ids continue the cached
    /// tokens (positions cache.Length..) and are appended to it.
    /// </summary>
    public Tensor Forward(Tensor inputIds, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long seq = inputIds.shape[1];
        int start = cache?.Length ?? 0;
        if (cache is not null && start + seq > cache.Capacity)
            throw new ArgumentException($"sequence of {start + seq} tokens exceeds the cache's {cache.Capacity} positions");
        if (start + seq > config.MaxPositionEmbeddings)
            throw new UserError(PositionLimit(start + seq));
        if (cos.device != inputIds.device)
        {
            // Rotary tables follow the model to its device (they are not parameters, so .to() does not move them).
            var (c, s) = (cos.to(inputIds.device), sin.to(inputIds.device));
            cos.Dispose(); sin.Dispose();
            (cos, sin) = (c.DetachFromDisposeScope(), s.DetachFromDisposeScope());
        }
        var h = embed_tokens.call(inputIds);
        for (int i = 0; i < layers.Count; i++)
            h = cache is null ? layers[i].call(h, cos, sin) : layers[i].Forward(h, cos, sin, cache[i], start);
        if (cache is not null) cache.Length = start + (int)seq;
        return norm.call(h).MoveToOuterDisposeScope();
    }

    // Beyond max_position_embeddings the rotary tables end, and rope_scaling "dynamic" would rescale them in
    // Hugging Face: NasPrune computes neither, so such a sequence is refused rather than computed differently.
    string PositionLimit(long seq) => $"config.json: sequence of {seq} tokens exceeds max_position_embeddings {config.MaxPositionEmbeddings}" +
        (config.RopeScaling?.Type == "dynamic" ? " (rope_scaling 'dynamic' rescales RoPE beyond it, which NasPrune does not compute)" : "");

    protected override void Dispose(bool disposing)
    {
        if (disposing) { cos.Dispose(); sin.Dispose(); }
        base.Dispose(disposing);
    }
}

/// <summary>The causal language model: the decoder plus the output projection (tied to the embeddings or not).</summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, Tensor>
{
    public readonly LlamaModel model;
    public readonly Linear? lm_head;
    public ModelConfig Config { get; }

    // Every process that builds a model gets the allocator setting that makes CPU forward passes fast.
    static LlamaForCausalLM() => Runtime.NativeMemory.TuneAllocator();

    public LlamaForCausalLM(ModelConfig config) : base(nameof(LlamaForCausalLM))
    {
        config.Validate("model config");
        Config = config;
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public IReadOnlyList<LlamaDecoderLayer> Layers => model.layers.ToList();

    /// <summary>Logits [batch, seq, vocab] for token ids [batch, seq].</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var hidden = model.call(inputIds);
        var head = lm_head?.weight ?? model.embed_tokens.weight!;
        return F.linear(hidden, head).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Incremental decoding: the next-token logits [batch, vocab] after token ids [batch, seq] that continue the
    /// tokens in <paramref name="cache"/> (a prompt into an empty cache, then one token per step). Only the last
    /// position goes through the output projection.
    /// </summary>
    public Tensor NextTokenLogits(Tensor inputIds, KvCache cache)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputIds, cache);
        var last = hidden.narrow(1, hidden.shape[1] - 1, 1).squeeze(1);
        var head = lm_head?.weight ?? model.embed_tokens.weight!;
        return F.linear(last, head).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Summed next-token negative log-likelihood (nats) and the number of predicted tokens, for token ids
    /// [batch, seq]: every position but the last predicts its successor. The output projection and the loss
    /// run over chunks of positions, so the full [batch, seq, vocab] logits never exist at once (a 128k
    /// vocabulary would need gigabytes for them).
    /// </summary>
    public (double Nll, long Tokens) NextTokenNll(Tensor inputIds, int? chunkTokens = null)
    {
        using var scope = NewDisposeScope();
        var hidden = NextTokenHidden(inputIds);
        var targets = NextTokenTargets(inputIds);
        double nll = 0;
        foreach (var (start, n) in Chunks(targets.shape[0], chunkTokens ?? ChunkTokens))
        {
            using var chunkScope = NewDisposeScope();
            var logits = OutputLogits(hidden.narrow(0, start, n));
            nll += F.cross_entropy(logits, targets.narrow(0, start, n), reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
        }
        return (nll, targets.shape[0]);
    }

    /// <summary>Most positions per output-projection chunk: bounds the live logits to chunk × vocab floats.</summary>
    public const int DefaultChunkTokens = 1024;

    /// <summary>Float32 logits one chunk may hold: 2^26 (256 MiB), so a 151,936-entry vocabulary takes 441 positions per chunk.</summary>
    public const long ChunkLogitElements = 1L << 26;

    /// <summary>
    /// Positions per output-projection chunk for this model: <see cref="DefaultChunkTokens"/>, fewer where the
    /// vocabulary is so large that chunk × vocab would exceed <see cref="ChunkLogitElements"/> (at least 64).
    /// </summary>
    public int ChunkTokens => ChunkTokensFor(Config.VocabSize);

    public static int ChunkTokensFor(int vocab) => (int)Math.Clamp(ChunkLogitElements / vocab, 64, DefaultChunkTokens);

    /// <summary>The final (normed) hidden states of every predicting position, [batch·(seq−1), hidden].</summary>
    public Tensor NextTokenHidden(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        long seq = inputIds.shape[1];
        return model.call(inputIds).narrow(1, 0, seq - 1).reshape(-1, Config.HiddenSize).MoveToOuterDisposeScope();
    }

    /// <summary>The token each predicting position predicts, [batch·(seq−1)], aligned with <see cref="NextTokenHidden"/>.</summary>
    public static Tensor NextTokenTargets(Tensor inputIds) => inputIds.narrow(1, 1, inputIds.shape[1] - 1).reshape(-1);

    /// <summary>Float32 logits [n, vocab] of hidden states [n, hidden] (the output projection alone).</summary>
    public Tensor OutputLogits(Tensor hidden) =>
        F.linear(hidden, lm_head?.weight ?? model.embed_tokens.weight!).to_type(ScalarType.Float32);

    /// <summary>(start, length) of consecutive chunks of at most <paramref name="size"/> covering 0..count.</summary>
    public static IEnumerable<(long Start, long Length)> Chunks(long count, int size)
    {
        for (long start = 0; start < count; start += size) yield return (start, Math.Min(size, count - start));
    }

    /// <summary>
    /// The differentiable next-token cross-entropy (float32) of token ids [batch, seq]: every position but the last
    /// predicts its successor. Training, LoRA recovery and the Taylor criterion all optimise or differentiate it.
    /// </summary>
    public Tensor NextTokenLoss(Tensor inputIds, nn.Reduction reduction = nn.Reduction.Mean)
    {
        using var scope = NewDisposeScope();
        long seq = inputIds.shape[1];
        var logits = call(inputIds).to_type(ScalarType.Float32);
        return F.cross_entropy(
            logits.narrow(1, 0, seq - 1).reshape(-1, Config.VocabSize),
            inputIds.narrow(1, 1, seq - 1).reshape(-1),
            reduction: reduction).MoveToOuterDisposeScope();
    }

    /// <summary>Sets every layer's active shape (what the forward pass computes) to a prefix of its stored shape.</summary>
    public void SetActiveShapes(IReadOnlyList<LayerShape> shapes)
    {
        if (shapes.Count != model.layers.Count)
            throw new UserError($"architecture has {shapes.Count} layers, the model {model.layers.Count}");
        for (int i = 0; i < shapes.Count; i++)
        {
            var layer = model.layers[i];
            var want = shapes[i];
            var stored = layer.StoredShape;
            if (want.Heads > stored.Heads || want.Ffn > stored.Ffn)
                throw new UserError($"layer {i}: asks for {want.Heads} heads / {want.Ffn} FFN channels, the model has {stored.Heads} / {stored.Ffn}");
            if (want.Heads % Config.GroupSize != 0)
                throw new UserError($"layer {i}: {want.Heads} heads is not a whole number of GQA groups of {Config.GroupSize}");
            layer.Active = want.Keep;
            if (layer.self_attn is not null) layer.self_attn.ActiveHeads = want.Keep ? want.Heads : 0;
            if (layer.mlp is not null) layer.mlp.ActiveChannels = want.Keep ? want.Ffn : 0;
        }
    }

    /// <summary>Restores every layer to its full stored shape.</summary>
    public void ResetActiveShapes() => SetActiveShapes(Config.Layers);

    /// <summary>
    /// Hugging Face's initialisation for training from scratch: normal(0, 0.02) weights, zero biases, unit norms;
    /// deterministic for a seed (parameters are visited in name order).
    /// </summary>
    public void InitializeWeights(long seed, double std = 0.02)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            if (name.EndsWith("norm.weight")) p.fill_(1);
            else if (name.EndsWith(".bias")) p.zero_();
            else p.normal_(0, std, generator);
        }
    }
}
