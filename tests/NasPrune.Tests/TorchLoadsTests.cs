using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

public class TorchLoadsTests
{
    [Fact]
    public void TorchSharpLoadsAndMultipliesMatrices()
    {
        // Fails with a DllNotFound/TypeInitialization error if the GLIBCXX patch in Directory.Build.targets did not run.
        using var a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        using var b = tensor(new float[] { 5, 6, 7, 8 }, new long[] { 2, 2 });
        using var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }
}
