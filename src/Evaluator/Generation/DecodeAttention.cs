using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// One new token's attention on the CPU, on raw float32 buffers: Qwen3's per-head q/k RMSNorm when present, RoPE,
/// the key and value written into the cache, then for each query head softmax(q·Kᵀ)·V over the cached positions it
/// may see. A layer of the embedded model is a few tens of thousands of multiply-adds, so the 50-odd libtorch calls
/// that did this (rotation, cache copies, two batched matmuls, softmax) cost several times the arithmetic; here it is
/// plain loops. Grouped-query attention reads each kv head's keys for every query head of its group.
/// </summary>
public static unsafe class DecodeAttention
{
    /// <summary>Buffers and sizes of one layer's step.</summary>
    /// <param name="qkv">[heads·d queries | kvHeads·d keys | kvHeads·d values], from the fused projection.</param>
    /// <param name="cos">cos row of this position [d].</param>
    /// <param name="sinSigned">sin row of this position with its first half negated [d] (rotate_half folded in).</param>
    /// <param name="queryNorm">Qwen3's q_norm weight [d], times the 1/√d attention scale; null without q/k norm.</param>
    /// <param name="keyNorm">Qwen3's k_norm weight [d], or null.</param>
    /// <param name="keys">this layer's cached keys [kvHeads, capacity, d].</param>
    /// <param name="values">this layer's cached values [kvHeads, capacity, d].</param>
    /// <param name="first">the first cached position the token sees (a sliding window's start, else 0).</param>
    /// <param name="output">the attended rows [heads·d].</param>
    /// <param name="scratch">at least d + capacity floats.</param>
    public readonly struct Step(
        float* qkv, int heads, int kvHeads, int headDim, float* cos, float* sinSigned,
        float* queryNorm, float* keyNorm, float normEpsilon,
        float* keys, float* values, int capacity, int position, int first, float* output, float* scratch)
    {
        public readonly float* Qkv = qkv, Cos = cos, SinSigned = sinSigned, QueryNorm = queryNorm, KeyNorm = keyNorm;
        public readonly float* Keys = keys, Values = values, Output = output, Scratch = scratch;
        public readonly int Heads = heads, KvHeads = kvHeads, HeadDim = headDim, Capacity = capacity, Position = position, First = first;
        public readonly float NormEpsilon = normEpsilon;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in Step s)
    {
        int d = s.HeadDim, half = d / 2, group = s.Heads / s.KvHeads, seen = s.Position + 1 - s.First;
        float* rotated = s.Scratch, scores = s.Scratch + d;
        // Keys: normalised (Qwen3), rotated, stored at this position; values copied.
        for (int g = 0; g < s.KvHeads; g++)
        {
            float* key = s.Qkv + (long)(s.Heads + g) * d;
            Rotate(key, s.KeyNorm, s.NormEpsilon, s.Cos, s.SinSigned, d, half, s.Keys + ((long)g * s.Capacity + s.Position) * d);
            new ReadOnlySpan<float>(s.Qkv + (long)(s.Heads + s.KvHeads + g) * d, d)
                .CopyTo(new Span<float>(s.Values + ((long)g * s.Capacity + s.Position) * d, d));
        }
        for (int h = 0; h < s.Heads; h++)
        {
            Rotate(s.Qkv + (long)h * d, s.QueryNorm, s.NormEpsilon, s.Cos, s.SinSigned, d, half, rotated);
            long kvBase = (long)(h / group) * s.Capacity * d;
            float* keys = s.Keys + kvBase + (long)s.First * d, values = s.Values + kvBase + (long)s.First * d;
            float max = float.NegativeInfinity;
            for (int t = 0; t < seen; t++)
            {
                float score = MatVec.Dot(keys + (long)t * d, rotated, d);
                scores[t] = score;
                if (score > max) max = score;
            }
            float sum = 0;
            for (int t = 0; t < seen; t++) sum += scores[t] = MathF.Exp(scores[t] - max);
            float* output = s.Output + (long)h * d;
            new Span<float>(output, d).Clear();
            float inverse = 1 / sum;
            for (int t = 0; t < seen; t++) AddScaled(output, values + (long)t * d, scores[t] * inverse, d);
        }
    }

    /// <summary>x (RMS-normalised with <paramref name="norm"/> when given), rotated: x·cos + roll(x, d/2)·sin±.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Rotate(float* x, float* norm, float epsilon, float* cos, float* sinSigned, int d, int half, float* into)
    {
        float scale = 1;
        if (norm is not null)
        {
            float squares = 0;
            for (int i = 0; i < d; i++) squares += x[i] * x[i];
            scale = 1 / MathF.Sqrt(squares / d + epsilon);
        }
        for (int i = 0; i < d; i++)
        {
            int j = i < half ? i + half : i - half;
            float xi = x[i] * scale, xj = x[j] * scale;
            if (norm is not null) (xi, xj) = (xi * norm[i], xj * norm[j]);
            into[i] = xi * cos[i] + xj * sinSigned[i];
        }
    }

    /// <summary>y += a·x over n floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddScaled(float* y, float* x, float a, int n)
    {
        int i = 0;
        var av = Vector256.Create(a);
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(x + i), av, Vector256.Load(y + i)), y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }
}
