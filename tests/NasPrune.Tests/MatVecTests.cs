using NasPrune.Evaluator.Generation;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>The batch-1 matrix-vector kernel against libtorch's matmul, on shapes that exercise every code path.</summary>
public sealed class MatVecTests
{
    [Theory]
    [InlineData(1, 1, 1)]       // a single scalar product: tails only
    [InlineData(7, 13, 1)]      // columns off the 8-lane grid
    [InlineData(64, 256, 1)]    // whole 32-lane steps only
    [InlineData(9, 40, 1)]      // one 32-lane step, one 8-lane step
    [InlineData(1027, 515, 2)]  // two threads (above the parallel threshold), uneven chunks
    [InlineData(4099, 96, 3)]   // three chunks of uneven row counts
    public void AgreesWithLibtorch(int rows, int cols, int threads)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)(rows * 31 + cols));
        var w = randn(rows, cols, generator: generator);
        var x = randn(1, cols, generator: generator);
        var bias = randn(rows, generator: generator);
        var start = randn(1, rows, generator: generator);
        var expected = x.matmul(w.t());
        double tolerance = 1e-5 * Math.Sqrt(cols) * (1 + expected.abs().max().item<float>());

        var y = empty(1, rows);
        MatVec.Multiply(w, x, y, null, accumulate: false, threads);
        Assert.True((y - expected).abs().max().item<float>() <= tolerance);

        MatVec.Multiply(w, x, y, bias, accumulate: false, threads);
        Assert.True((y - (expected + bias)).abs().max().item<float>() <= tolerance);

        var acc = start.clone();
        MatVec.Multiply(w, x, acc, bias, accumulate: true, threads);
        Assert.True((acc - (start + expected + bias)).abs().max().item<float>() <= tolerance);
    }

    [Fact]
    public void NonContiguousOrOtherDtypesAreRefused()
    {
        using var scope = NewDisposeScope();
        var w = randn(8, 16);
        var y = empty(1, 8);
        Assert.Throws<ArgumentException>(() => MatVec.Multiply(w.t(), randn(1, 8), empty(1, 16), null, false, 1));
        Assert.Throws<ArgumentException>(() => MatVec.Multiply(w.to_type(ScalarType.Float64), randn(1, 16), y, null, false, 1));
        Assert.Throws<ArgumentException>(() => MatVec.Multiply(w, randn(1, 15), y, null, false, 1));
    }
}
