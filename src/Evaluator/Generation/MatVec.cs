using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// y = W·x (+ b) (or y += W·x (+ b)) for one float32 row x and a row-major float32 matrix W [rows, cols] on the CPU:
/// the matrix-vector products of batch-1 decoding. libtorch runs a [1, n] × [n, m] product through its general
/// matmul path at 1–3 GFLOP/s on this machine (profiled: 4.8 of 6.3 ms per token of the embedded model), well below
/// what the arithmetic and the memory allow. Here each output is the dot product of one contiguous weight row with
/// x, four rows at a time so that every x load feeds four fused multiply-adds, in 256-bit vectors; large products
/// split their rows over the intra-op threads. Summation order differs from libtorch's, so results agree to float
/// rounding, not bit for bit.
/// </summary>
public static unsafe class MatVec
{
    // The tensor's first element. TorchSharp exposes no raw pointer, so this is LibTorchSharp's own export.
    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Products with fewer multiply-adds than this run on the calling thread (a parallel loop costs microseconds).</summary>
    const long ParallelThreshold = 1 << 19;

    /// <summary>
    /// y[0, :rows] = W·x (+ bias), or += when <paramref name="accumulate"/>. W [rows, cols], x [1, cols] (or [cols]),
    /// y [1, rows], bias [rows] or null: float32, contiguous, on the CPU.
    /// </summary>
    // AggressiveOptimization: compiled fully optimized at once. Tiered compilation would first run the vector loops
    // as unoptimized tier-0 code (about 30× slower), for most of a short generation.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(Tensor weight, Tensor x, Tensor y, Tensor? bias, bool accumulate, int threads)
    {
        int rows = checked((int)weight.shape[0]), cols = checked((int)weight.shape[1]);
        float* w = Pointer(weight, (long)rows * cols, nameof(weight));
        float* input = Pointer(x, cols, nameof(x));
        float* output = Pointer(y, rows, nameof(y));
        float* b = bias is null ? null : Pointer(bias, rows, nameof(bias));
        long work = (long)rows * cols;
        int chunks = threads > 1 && work >= ParallelThreshold ? threads : 1;
        if (chunks == 1)
            Rows(w, cols, input, output, b, 0, rows, accumulate);
        else
        {
            // Chunks of whole 4-row groups, so every chunk but the last runs the 4-row kernel only.
            int groups = (rows + 3) / 4;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, c =>
            {
                int first = (int)((long)groups * c / chunks) * 4, last = Math.Min(rows, (int)((long)groups * (c + 1) / chunks) * 4);
                Rows(w, cols, input, output, b, first, last, accumulate);
            });
        }
        // The raw pointers do not keep the tensors alive: without these the GC could free one mid-product.
        GC.KeepAlive(weight);
        GC.KeepAlive(x);
        GC.KeepAlive(y);
        GC.KeepAlive(bias);
    }

    static float* Pointer(Tensor t, long elements, string name)
    {
        if (t.dtype != ScalarType.Float32 || t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous() || t.numel() != elements)
            throw new ArgumentException($"{name}: a contiguous float32 CPU tensor of {elements} elements expected, got {t.dtype} {t.device} [{string.Join(", ", t.shape)}]{(t.is_contiguous() ? "" : " (not contiguous)")}");
        return (float*)THSTensor_data(t.Handle);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows(float* w, int cols, float* x, float* y, float* bias, int first, int last, bool accumulate)
    {
        int r = first;
        for (; r + 4 <= last; r += 4)
        {
            float* w0 = w + (long)r * cols;
            var (d0, d1, d2, d3) = Dot4(w0, w0 + cols, w0 + 2L * cols, w0 + 3L * cols, x, cols);
            Store(y, bias, r, d0, accumulate);
            Store(y, bias, r + 1, d1, accumulate);
            Store(y, bias, r + 2, d2, accumulate);
            Store(y, bias, r + 3, d3, accumulate);
        }
        for (; r < last; r++) Store(y, bias, r, Dot(w + (long)r * cols, x, cols), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* y, float* bias, int r, float dot, bool accumulate)
    {
        if (bias is not null) dot += bias[r];
        y[r] = accumulate ? y[r] + dot : dot;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float, float, float) Dot4(float* w0, float* w1, float* w2, float* w3, float* x, int cols)
    {
        // Two accumulators per row: eight independent FMA chains keep both FMA units busy despite their latency.
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int i = 0;
        for (; i + 16 <= cols; i += 16)
        {
            var xa = Vector256.Load(x + i);
            var xb = Vector256.Load(x + i + 8);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i), xa, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i), xa, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i), xa, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i), xa, a3);
            b0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i + 8), xb, b0);
            b1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i + 8), xb, b1);
            b2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i + 8), xb, b2);
            b3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i + 8), xb, b3);
        }
        for (; i + 8 <= cols; i += 8)
        {
            var xa = Vector256.Load(x + i);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i), xa, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i), xa, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i), xa, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i), xa, a3);
        }
        float s0 = Vector256.Sum(a0 + b0), s1 = Vector256.Sum(a1 + b1), s2 = Vector256.Sum(a2 + b2), s3 = Vector256.Sum(a3 + b3);
        for (; i < cols; i++)
        {
            float xi = x[i];
            s0 += w0[i] * xi;
            s1 += w1[i] * xi;
            s2 += w2[i] * xi;
            s3 += w3[i] * xi;
        }
        return (s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Dot(float* w, float* x, int cols)
    {
        var a = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= cols; i += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), a);
        float s = Vector256.Sum(a);
        for (; i < cols; i++) s += w[i] * x[i];
        return s;
    }
}
