using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// A decode-only fast path: one new token at a time (batch 1) through a model's active shapes, with weights laid out
/// for it once, when generation starts. It computes what <see cref="LlamaForCausalLM.NextTokenLogits"/> computes for
/// a single token, equal up to float rounding, in about a third of the tensor operations:
/// <list type="bullet">
/// <item>q/k/v and gate/up are one matmul each (the active rows of the per-layer weights, concatenated once);</item>
/// <item>on the CPU every matmul is a matrix-vector product of <see cref="MatVec"/> (libtorch's general matmul runs
/// these at a fraction of the machine's rate); the residual stream is one [1, hidden] buffer that o_proj and down_proj
/// accumulate into in place;</item>
/// <item>on the CPU, the attention between the q/k/v and output projections (Qwen3's q/k norm, RoPE, the cache
/// write, scores, softmax, values) is one C# loop nest over the tensors' buffers, <see cref="DecodeAttention"/>: its
/// few-kilobyte operations cost more to dispatch through libtorch than to compute, and libtorch's threads for them
/// cost 25–60 ms a layer on a busy machine (profiled; scaled_dot_product_attention alike). Elsewhere, grouped-query
/// attention without <c>repeat_interleave</c>: query heads viewed as [kv heads, group, head_dim] and two batched
/// matmuls over the kv heads. One new token attends to every cached key, so there is no mask. The 1/√d scale is
/// folded into the query rows of the fused weights (into q_norm's weight for Qwen3);</item>
/// <item>RoPE from precomputed cos and sign-folded sin rows: x·cos + roll(x, d/2)·sin±;</item>
/// <item>keys and values written in place into the preallocated <see cref="KvCache"/>;</item>
/// <item>each RMSNorm's weight folded into the columns of the matmul that follows it (W·diag(g)), so a norm is four
/// small operations instead of five (17 fewer per token on the embedded model; per-token dispatch, not arithmetic,
/// is what a 7 M-parameter decode step costs).</item>
/// </list>
/// The evaluation forward pass is untouched (prefill still goes through it and fills the same cache). The fused q/k/v
/// and gate/up weights and the LM head (norm weights folded in) are copies, released by Dispose: 2.75 GB for
/// TinyLlama-1.1B's shape beside its 4.4 GB of F32 weights. o_proj and down_proj are the model's own weights unless
/// pruning cut their columns.
/// </summary>
public sealed unsafe class FusedDecoder : IDisposable
{
    sealed class Layer
    {
        public int Index, Heads, KvHeads;
        public int? Window;
        // Row-major [out, in], as the matrix-vector products read them.
        public Tensor? Qkv, QkvBias, Output, OutputBias;
        // Qwen3's per-head RMSNorm weights [d]; the query's carries the 1/√d attention scale.
        public Tensor? QueryNorm, KeyNorm;
        public Tensor? GateUp, GateUpBias, Down, DownBias;
        public long Channels;
    }

    readonly List<Layer> layers = [];
    readonly List<Tensor> owned = [];
    readonly Tensor embedding, head, cos, sinSigned;
    readonly ModelConfig config;
    readonly Func<Tensor, Tensor> activation;
    readonly double eps;
    readonly bool onCpu, siluGate;
    // DecodeAttention's per-call buffer (a rotated query and one score per cached position), grown as needed.
    float[] attentionScratch = [];

    /// <summary>Why <paramref name="model"/>'s current state cannot take the fast path, or null when it can.</summary>
    public static string? Unsupported(LlamaForCausalLM model)
    {
        if (model.model.embed_tokens.weight!.dtype != ScalarType.Float32) return "weights are not float32";
        foreach (var l in model.Layers)
        {
            if (l.ResidualHook is not null) return "a residual hook is set";
            if (l.self_attn is { } a && (a.OnOutputProjectionInput is not null || a.ProjectionDeltas is not null)) return "attention has an observer or adapters";
            if (l.mlp is { } m && (m.OnOutputProjectionInput is not null || m.ProjectionDeltas is not null)) return "the MLP has an observer or adapters";
        }
        return null;
    }

    public FusedDecoder(LlamaForCausalLM model)
    {
        if (Unsupported(model) is { } why) throw new ArgumentException($"the fused decoder cannot run this model: {why}");
        config = model.Config;
        activation = Activations.For(config.HiddenAct);
        siluGate = config.HiddenAct is "silu" or "swish";
        eps = config.RmsNormEps;
        using var _ = no_grad();
        // Temporaries belong to this scope: freed here rather than by finalizers, and referenced until then (a
        // temporary outside any scope can be finalized while libtorch still reads it). Own detaches what is kept;
        // a module's weight getter may hand out a new wrapper registered here, so kept model tensors are detached too.
        using var scope = NewDisposeScope();
        embedding = model.model.embed_tokens.weight!.DetachFromDisposeScope();
        head = Own((model.lm_head?.weight ?? embedding) * model.model.norm.weight);
        var device = embedding.device;
        onCpu = device.type == DeviceType.CPU;
        var (c, s) = Rotary.Tables(config, config.MaxPositionEmbeddings, device);
        long half = config.HeadDim / 2;
        cos = Own(c);
        // rotate_half(x)·sin = roll(x, d/2)·[−sin₁, sin₂]: cos and sin repeat their halves.
        sinSigned = Own(cat([-s.narrow(1, 0, half), s.narrow(1, half, half)], 1));
        s.Dispose();
        int d = config.HeadDim;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var l = model.Layers[i];
            var shape = l.ActiveShape;
            if (!shape.Keep) continue;
            var layer = new Layer { Index = i, Heads = shape.Heads, KvHeads = shape.KvHeads, Window = config.AttentionWindow(i), Channels = shape.Ffn };
            if (shape.Heads > 0)
            {
                var a = l.self_attn!;
                long q = (long)shape.Heads * d, kv = (long)shape.KvHeads * d;
                // Queries pre-scaled by 1/√d (RoPE is linear, so the rotated query is scaled alike). Qwen3's q_norm
                // would undo a scale applied before it, so there the scale goes into the norm's weight instead.
                double scale = a.q_norm is null ? 1 / Math.Sqrt(d) : 1;
                if (a.q_norm is not null)
                {
                    layer.QueryNorm = Own(a.q_norm.weight! * (1 / Math.Sqrt(d)));
                    layer.KeyNorm = Own(a.k_norm!.weight!.contiguous());
                }
                layer.Qkv = Own(cat([a.q_proj.weight!.narrow(0, 0, q) * scale, a.k_proj.weight!.narrow(0, 0, kv), a.v_proj.weight!.narrow(0, 0, kv)], 0)
                    * l.input_layernorm!.weight);
                if (a.q_proj.bias is not null)
                    layer.QkvBias = Own(cat([a.q_proj.bias.narrow(0, 0, q) * scale, a.k_proj.bias!.narrow(0, 0, kv), a.v_proj.bias!.narrow(0, 0, kv)], 0));
                layer.Output = Own(a.o_proj.weight!.narrow(1, 0, q).contiguous());
                layer.OutputBias = a.o_proj.bias?.DetachFromDisposeScope();
            }
            if (shape.Ffn > 0)
            {
                var m = l.mlp!;
                long n = shape.Ffn;
                layer.GateUp = Own(cat([m.gate_proj.weight!.narrow(0, 0, n), m.up_proj.weight!.narrow(0, 0, n)], 0) * l.post_attention_layernorm!.weight);
                if (m.gate_proj.bias is not null) layer.GateUpBias = Own(cat([m.gate_proj.bias.narrow(0, 0, n), m.up_proj.bias!.narrow(0, 0, n)], 0));
                layer.Down = Own(m.down_proj.weight!.narrow(1, 0, n).contiguous());
                layer.DownBias = m.down_proj.bias?.DetachFromDisposeScope();
            }
            layers.Add(layer);
        }
    }

    Tensor Own(Tensor t)
    {
        var kept = t.DetachFromDisposeScope();
        owned.Add(kept);
        return kept;
    }

    /// <summary>
    /// Next-token logits [1, vocab] after <paramref name="token"/>, which continues the cache's tokens (position
    /// cache.Length); its keys and values are appended to the cache. Call inside no_grad or inference_mode.
    /// </summary>
    public Tensor NextTokenLogits(int token, KvCache cache, Action<string>? mark = null)
    {
        int position = cache.Length;
        if (position + 1 > cache.Capacity)
            throw new ArgumentException($"sequence of {position + 1} tokens exceeds the cache's {cache.Capacity} positions");
        if (token < 0 || token >= config.VocabSize) throw new ArgumentException($"token {token} is outside the vocabulary of {config.VocabSize}");
        using var scope = NewDisposeScope();
        // ε lives exactly as long as this call: an implicit conversion may be finalized while libtorch reads it
        // (see KeptScalars).
        using var epsilon = eps.ToScalar();
        int threads = get_num_threads();
        var h = embedding.narrow(0, token, 1).clone();
        // The tensor path's rotary rows (the CPU path reads the tables in place).
        var (c, s) = onCpu ? (cos, sinSigned) : (cos[position], sinSigned[position]);
        mark?.Invoke("embedding, rope rows");
        foreach (var layer in layers)
        {
            if (layer.Qkv is not null)
            {
                using var attentionScope = NewDisposeScope();
                var qkv = Linear(Normalized(h, epsilon), layer.Qkv, layer.QkvBias, threads);
                mark?.Invoke("attention: norm, qkv matmul");
                var slot = cache[layer.Index]!;
                int first = layer.Window is int w ? Math.Max(0, position - w + 1) : 0;
                var attended = onCpu
                    ? AttendOnCpu(layer, qkv, slot, cache.Capacity, position, first)
                    : Attend(layer, qkv, slot, c, s, position, first, epsilon);
                mark?.Invoke("attention: rope, cache write, scores, softmax, values");
                AddLinear(h, attended, layer.Output!, layer.OutputBias, threads);
                mark?.Invoke("attention: o_proj + residual");
            }
            if (layer.GateUp is not null)
            {
                using var mlpScope = NewDisposeScope();
                long n = layer.Channels;
                var gateUp = Linear(Normalized(h, epsilon), layer.GateUp, layer.GateUpBias, threads);
                mark?.Invoke("mlp: norm, gate/up matmul");
                var hidden = onCpu && siluGate ? SiluGateInPlace(gateUp, n) : activation(gateUp.narrow(1, 0, n)).mul_(gateUp.narrow(1, n, n));
                mark?.Invoke("mlp: activation");
                AddLinear(h, hidden, layer.Down!, layer.DownBias, threads);
                mark?.Invoke("mlp: down_proj + residual");
            }
        }
        var logits = Linear(Normalized(h, epsilon), head, null, threads);
        mark?.Invoke("final norm, lm_head");
        cache.Length = position + 1;
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>The attention step in C# on the tensors' buffers (<see cref="DecodeAttention"/>): [1, heads·d].</summary>
    Tensor AttendOnCpu(Layer layer, Tensor qkv, KvCache.Layer slot, int capacity, int position, int first)
    {
        int d = config.HeadDim, heads = layer.Heads, kvHeads = layer.KvHeads;
        if (slot.Keys.shape[0] != 1) throw new ArgumentException("the fused decoder decodes one sequence (a cache of batch 1)");
        var attended = empty(1, (long)heads * d, dtype: ScalarType.Float32);
        if (attentionScratch.Length < d + capacity) attentionScratch = new float[d + capacity];
        long cacheSize = (long)kvHeads * capacity * d, rows = (long)config.MaxPositionEmbeddings * d;
        fixed (float* scratch = attentionScratch)
        {
            DecodeAttention.Run(new DecodeAttention.Step(
                MatVec.Pointer(qkv, (long)(heads + 2 * kvHeads) * d, "qkv"), heads, kvHeads, d,
                MatVec.Pointer(cos, rows, "cos") + (long)position * d, MatVec.Pointer(sinSigned, rows, "sin") + (long)position * d,
                layer.QueryNorm is null ? null : MatVec.Pointer(layer.QueryNorm, d, "q_norm"),
                layer.KeyNorm is null ? null : MatVec.Pointer(layer.KeyNorm, d, "k_norm"), (float)eps,
                MatVec.Pointer(slot.Keys, cacheSize, "keys"), MatVec.Pointer(slot.Values, cacheSize, "values"),
                capacity, position, first, MatVec.Pointer(attended, (long)heads * d, "attended"), scratch));
        }
        // The buffers were raw pointers: keep every tensor alive until the loops are done.
        GC.KeepAlive(qkv);
        GC.KeepAlive(slot);
        GC.KeepAlive(layer);
        return attended;
    }

    /// <summary>The attention step with tensor operations (off the CPU): [1, heads·d].</summary>
    Tensor Attend(Layer layer, Tensor qkv, KvCache.Layer slot, Tensor c, Tensor s, int position, int first, Scalar epsilon)
    {
        int d = config.HeadDim, heads = layer.Heads, kvHeads = layer.KvHeads;
        long half = d / 2;
        // q and k rows, [heads + kv heads, d], rotated together (after Qwen3's per-head norm).
        var qk = qkv.narrow(1, 0, (long)(heads + kvHeads) * d).view(heads + kvHeads, d);
        if (layer.QueryNorm is not null)
            qk = cat([Normalized(qk.narrow(0, 0, heads), epsilon) * layer.QueryNorm, Normalized(qk.narrow(0, heads, kvHeads), epsilon) * layer.KeyNorm!], 0);
        var rotated = (qk * c).addcmul_(qk.roll(half, 1), s, KeptScalars.One);
        // The cache's batch row 0: [kv heads, capacity, d].
        var cachedKeys = slot.Keys.select(0, 0);
        var cachedValues = slot.Values.select(0, 0);
        cachedKeys.select(1, position).copy_(rotated.narrow(0, heads, kvHeads));
        cachedValues.select(1, position).copy_(qkv.narrow(1, (long)(heads + kvHeads) * d, (long)kvHeads * d).view(kvHeads, d));
        var keys = cachedKeys.narrow(1, first, position + 1 - first);
        var values = cachedValues.narrow(1, first, position + 1 - first);
        var q = rotated.narrow(0, 0, heads).view(kvHeads, heads / kvHeads, d);
        return q.bmm(keys.transpose(1, 2)).softmax(-1).bmm(values).view(1, (long)heads * d);
    }

    /// <summary>
    /// silu(gate)·up in a C# loop, written over the gate half of [1, gate | up]; returns that half [1, n]. Three
    /// libtorch calls on a few thousand floats cost more to dispatch than to compute.
    /// </summary>
    static Tensor SiluGateInPlace(Tensor gateUp, long n)
    {
        float* gate = MatVec.Pointer(gateUp, 2 * n, "gate/up"), up = gate + n;
        for (long i = 0; i < n; i++) gate[i] = gate[i] / (1 + MathF.Exp(-gate[i])) * up[i];
        GC.KeepAlive(gateUp);
        return gateUp.narrow(1, 0, n);
    }

    /// <summary>x·Wᵀ (+ b) for the row x [1, in] and W [out, in].</summary>
    Tensor Linear(Tensor x, Tensor weight, Tensor? bias, int threads)
    {
        if (!onCpu) return F.linear(x, weight, bias);
        var y = empty(1, weight.shape[0], dtype: ScalarType.Float32);
        MatVec.Multiply(weight, x, y, bias, accumulate: false, threads);
        return y;
    }

    /// <summary>h += x·Wᵀ (+ b), in place.</summary>
    void AddLinear(Tensor h, Tensor x, Tensor weight, Tensor? bias, int threads)
    {
        if (onCpu) MatVec.Multiply(weight, x, h, bias, accumulate: true, threads);
        else h.PlusInPlace(F.linear(x, weight, bias));
    }

    /// <summary>RMSNorm of a float32 row without its weight (folded into the next matmul), as <see cref="RmsNorm"/> computes it.</summary>
    static Tensor Normalized(Tensor x, Scalar epsilon) => x * (x * x).mean([-1L], keepdim: true).PlusInPlace(epsilon).rsqrt_();

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
        owned.Clear();
    }
}
