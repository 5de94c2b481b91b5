using System.Text.Json;
using NasPrune.Common.Pairs;
using NasPrune.Tests.BadInputs;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// Issue 15 §1: a disk that fills between rows of `sample`. The command ends in one line naming the path and "no space
/// left on device"; the rows written before the fault still pass `pairs validate`; once space is back, `--resume`
/// finishes the stream, and the result equals an uninterrupted run.
/// </summary>
public sealed class SampleFullDiskTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-fulldisk-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    string[] Sample(string outDir, params string[] extra) =>
        ["sample", "--model", tiny.Dir, "--out", outDir, "--count", "24", "--windows", "2", "--min-kept", "0.5", "--max-kept", "0.8",
         "--seed", "9", "--rows-per-part", "2", "--device", "cpu", "--json", .. extra];

    [MountTheory]
    [InlineData(96 << 10)]
    public void ADiskThatFillsBetweenRowsLosesNoRowAndTheResumeFinishes(int freeBytes)
    {
        using var mounts = new ScratchMounts(_ => { }, fullBytes: 1 << 20);
        Assert.True(mounts.Available, mounts.Unavailable);
        string reference = Path.Combine(root, "reference"), dir = Path.Combine(mounts.Full, "pairs");
        Assert.Equal(0, CliProcess.Run(Sample(reference)).ExitCode);

        mounts.LeaveFree(freeBytes);
        var full = CliProcess.Run(Sample(dir));
        Assert.Equal(2, full.ExitCode);
        var last = full.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Matches($@"^nasprune: error: {System.Text.RegularExpressions.Regex.Escape(dir)}/\S+: no space left on device$", last);
        Assert.DoesNotContain("   at ", full.Stderr);
        int written = PairStore.ReadAll(dir).Count;
        Assert.InRange(written, 1, 23); // the fault came between rows
        var validate = CliProcess.Run("pairs", "validate", dir);
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);

        mounts.Free();
        var resumed = CliProcess.Run(Sample(dir, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        using (var doc = JsonDocument.Parse(resumed.Stdout))
            Assert.Equal(written, doc.RootElement.GetProperty("run").GetProperty("already_present").GetInt32());
        Assert.Equal(0, CliProcess.Run("pairs", "validate", dir).ExitCode);
        var same = CliProcess.Run("pairs", "compare", reference, dir);
        Assert.True(same.ExitCode == 0, same.Stdout + same.Stderr);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
    }
}
