using System.Diagnostics;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// Single writer (issue 15 §5): a second writer of a sample shard or a campaign run directory is refused in one line
/// naming the holder's PID, and a lock left by a process killed with SIGKILL does not block a resume.
/// </summary>
public sealed class DirectoryLockTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-lock-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    string[] Sample(string outDir, int count, params string[] extra) =>
        ["sample", "--model", tiny.Dir, "--out", outDir, "--count", $"{count}", "--windows", "2", "--min-kept", "0.5", "--max-kept", "0.8",
         "--seed", "5", "--device", "cpu", "--json", .. extra];

    [Fact]
    public void TheLockIsExclusiveRecordsThePidAndIsEmptiedOnRelease()
    {
        string dir = Path.Combine(root, "d");
        using (var held = DirectoryLock.Acquire(dir, "test directory"))
        {
            Assert.Equal($"{Environment.ProcessId}", DirectoryLock.RecordedPid(dir));
            // Another open file description is another holder, even in this process.
            var refused = Assert.Throws<UserError>(() => DirectoryLock.Acquire(dir, "test directory"));
            Assert.Equal($"{dir}: test directory is locked by another nasprune process (PID {Environment.ProcessId}, .nasprune.lock); " +
                         "one writer at a time: wait for it to finish or stop it", refused.Message);
        }
        Assert.Equal("", File.ReadAllText(Path.Combine(dir, DirectoryLock.FileName))); // released: .NET may read it again
        using (DirectoryLock.Acquire(dir, "test directory")) { } // free again
    }

    [Fact]
    public void AStaleLockFileWithADeadPidDoesNotBlock()
    {
        string dir = Path.Combine(root, "stale");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, DirectoryLock.FileName), "4194303\n"); // what a killed holder leaves: its PID, no lock
        using var taken = DirectoryLock.Acquire(dir, "test directory");
        Assert.Equal($"{Environment.ProcessId}", DirectoryLock.RecordedPid(dir));
    }

    [Fact]
    public void ASecondSampleWriterOfAShardIsRefusedNamingTheHolder()
    {
        string dir = Path.Combine(root, "pairs");
        Assert.Equal(0, CliProcess.Run(Sample(dir, 2)).ExitCode);
        var before = PairStore.Files(dir).Select(File.ReadAllBytes).ToList();
        using (DirectoryLock.Acquire(Path.Combine(dir, "shard-0-of-1"), "pairs shard 0/1"))
        {
            var second = CliProcess.Run(Sample(dir, 4, "--resume"));
            CliTests.AssertOneLineUserError(second, $"shard-0-of-1: pairs shard 0/1 is locked by another nasprune process (PID {Environment.ProcessId}");
        }
        Assert.Equal(before, PairStore.Files(dir).Select(File.ReadAllBytes).ToList());
        // Another shard of the same directory is another writer's: not blocked.
        using (DirectoryLock.Acquire(Path.Combine(dir, "shard-0-of-1"), "pairs shard 0/1"))
            Assert.Equal(0, CliProcess.Run(Sample(dir, 4, "--resume", "--shard", "1/2")).ExitCode);
    }

    [Fact]
    public void ASecondCampaignOnARunDirectoryIsRefusedNamingTheHolder()
    {
        string run = Path.Combine(root, "run");
        string config = Path.Combine(root, "c.yaml");
        Directory.CreateDirectory(root);
        File.WriteAllText(config, $"name: locked\nmodel: {tiny.Dir}\n");
        using var held = DirectoryLock.Acquire(run, "campaign run directory");
        var second = CliProcess.Run("campaign", "--config", config, "--out", run, "--device", "cpu");
        CliTests.AssertOneLineUserError(second, $"{run}: campaign run directory is locked by another nasprune process (PID {Environment.ProcessId}");
        Assert.Equal([Path.Combine(run, DirectoryLock.FileName)], Directory.GetFileSystemEntries(run));
    }

    [Fact]
    public void ALockLeftByASigkilledSamplerDoesNotBlockItsResume()
    {
        string dir = Path.Combine(root, "killed");
        string lockFile = Path.Combine(dir, "shard-0-of-1", DirectoryLock.FileName);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nasprune.dll"));
        foreach (var a in Sample(dir, 40)) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        _ = child.StandardOutput.ReadToEndAsync();
        _ = child.StandardError.ReadToEndAsync();
        // Kill it while it holds the lock (its PID is in the file), as a node failure or the OOM killer would.
        var clock = Stopwatch.StartNew();
        while (DirectoryLock.RecordedPid(Path.GetDirectoryName(lockFile)!) != $"{child.Id}")
        {
            Assert.False(child.HasExited, "the sampler ended before it was killed");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the sampler never took the lock");
            Thread.Sleep(5);
        }
        child.Kill(); // SIGKILL on Unix: no cleanup runs
        child.WaitForExit();
        Assert.Equal($"{child.Id}", File.ReadAllText(lockFile).Trim()); // the stale lock file, PID and all

        var resumed = CliProcess.Run(Sample(dir, 40, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal("", File.ReadAllText(lockFile));
        var validate = CliProcess.Run("pairs", "validate", dir);
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);
        Assert.Equal(40, PairStore.ReadAll(dir).Count);
    }
}
