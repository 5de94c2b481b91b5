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
/// x in 256-bit vectors, one row after another, so the weights stream through memory in one sequential pass; large
/// products split their rows over the intra-op threads. An earlier kernel took four rows at a time (every x load
/// feeding four FMAs): faster while a matrix sits in L2, but slower on the embedded model's 30 MB of weights, which
/// stream from L3 and memory at every token (experiments/decode/README.md has the decode figures before and after). Summation order differs from libtorch's, so results agree to float
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
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, c =>
            {
                int first = (int)((long)rows * c / chunks), last = (int)((long)rows * (c + 1) / chunks);
                Rows(w, cols, input, output, b, first, last, accumulate);
            });
        }
        // The raw pointers do not keep the tensors alive: without these the GC could free one mid-product.
        GC.KeepAlive(weight);
        GC.KeepAlive(x);
        GC.KeepAlive(y);
        GC.KeepAlive(bias);
    }

    /// <summary>The first element of a contiguous float32 CPU tensor of exactly <paramref name="elements"/> elements (else an ArgumentException naming it).</summary>
    internal static float* Pointer(Tensor t, long elements, string name)
    {
        if (t.dtype != ScalarType.Float32 || t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous() || t.numel() != elements)
            throw new ArgumentException($"{name}: a contiguous float32 CPU tensor of {elements} elements expected, got {t.dtype} {t.device} [{string.Join(", ", t.shape)}]{(t.is_contiguous() ? "" : " (not contiguous)")}");
        return (float*)THSTensor_data(t.Handle);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows(float* w, int cols, float* x, float* y, float* bias, int first, int last, bool accumulate)
    {
        for (int r = first; r < last; r++) Store(y, bias, r, Dot(w + (long)r * cols, x, cols), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* y, float* bias, int r, float dot, bool accumulate)
    {
        if (bias is not null) dot += bias[r];
        y[r] = accumulate ? y[r] + dot : dot;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot(float* w, float* x, int cols)
    {
        // Four independent FMA chains hide the FMA latency; one row at a time keeps the weight reads one sequential stream.
        Vector256<float> a = default, b = default, c = default, d = default;
        int i = 0;
        for (; i + 32 <= cols; i += 32)
        {
            a = Vector256.FusedMultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), a);
            b = Vector256.FusedMultiplyAdd(Vector256.Load(w + i + 8), Vector256.Load(x + i + 8), b);
            c = Vector256.FusedMultiplyAdd(Vector256.Load(w + i + 16), Vector256.Load(x + i + 16), c);
            d = Vector256.FusedMultiplyAdd(Vector256.Load(w + i + 24), Vector256.Load(x + i + 24), d);
        }
        for (; i + 8 <= cols; i += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), a);
        float s = Vector256.Sum((a + b) + (c + d));
        for (; i < cols; i++) s += w[i] * x[i];
        return s;
    }
}
