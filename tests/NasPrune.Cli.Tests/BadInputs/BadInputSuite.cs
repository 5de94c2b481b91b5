using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Xunit;

namespace NasPrune.Tests.BadInputs;

/// <summary>
/// The README's promise, tried input by input: every case of <see cref="BadInputCases"/> must end with exit code 2,
/// exactly one <c>nasprune: error:</c> line (the last line on stderr) matching the case's pattern, no stack trace,
/// every file that existed before the command unchanged, and no temporary or staging file left behind.
/// Commands run in-process (<see cref="InProcessCli"/>): the whole table takes about a minute.
/// </summary>
[Collection(InProcessCliCollection.Name)]
public sealed partial class BadInputSuite(BadInputFixture fixture, Xunit.Abstractions.ITestOutputHelper log) : IClassFixture<BadInputFixture>
{
    public static TheoryData<string> Plain() => Names(mounts: false);
    public static TheoryData<string> Mounted() => Names(mounts: true);

    static TheoryData<string> Names(bool mounts)
    {
        var data = new TheoryData<string>();
        foreach (var c in BadInputCases.All.Where(c => c.Mounts == mounts)) data.Add(c.Name);
        return data;
    }

    [Fact]
    public void TheTableHasAtLeast200UniquelyNamedCasesCoveringEveryCommand()
    {
        Assert.True(BadInputCases.All.Count >= 200, $"{BadInputCases.All.Count} cases");
        Assert.Equal(BadInputCases.All.Count, BadInputCases.All.Select(c => c.Name).Distinct().Count());
        var commands = BadInputCases.All.Select(c => c.Name.Split(':')[0]).ToHashSet();
        foreach (var command in new[] { "info", "eval", "train-base", "importance", "prune", "export", "prune-sweep", "sample", "faithfulness",
                     "pairs list", "pairs validate", "pairs merge", "pairs compare", "predictor train", "predictor eval", "predictor predict",
                     "predictor synthetic-pairs", "campaign", "report", "bench", "generate", "synth" })
            Assert.Contains(command, commands);
    }

    [Theory]
    [MemberData(nameof(Plain))]
    public void IsOneClearLineAndLosesNothing(string name) => Check(BadInputCases.All.Single(c => c.Name == name));

    [MountTheory]
    [MemberData(nameof(Mounted))]
    public void OnAReadOnlyOrFullMountIsOneClearLineAndLosesNothing(string name)
    {
        Assert.True(fixture.Mounts.Available, fixture.Mounts.Unavailable);
        try
        {
            Check(BadInputCases.All.Single(c => c.Name == name));
        }
        finally
        {
            // What a case created on the full mount (a folder, an empty lock file) goes, then the mount is filled again.
            foreach (var entry in Directory.EnumerateFileSystemEntries(fixture.Mounts.Full).Where(e => e != fixture.Mounts.Filler))
                if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); else File.Delete(entry);
            fixture.Mounts.FillUp();
        }
    }

    void Check(BadInput c)
    {
        using var sandbox = new Sandbox(fixture, Path.Combine(fixture.Root, "cases", Guid.NewGuid().ToString("N")));
        Directory.CreateDirectory(sandbox.Dir);
        string[] args = c.Args(sandbox);
        string[] scope = [fixture.Root, fixture.Mounts.Root];
        var before = Snapshot(scope);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = InProcessCli.Run(args);
        log.WriteLine($"{clock.Elapsed.TotalSeconds:F2} s: nasprune {string.Join(' ', args)}");

        string context = $"nasprune {string.Join(' ', args)}\nexit {r.ExitCode}\nstderr:\n{r.Stderr}";
        Assert.False(r.Stderr.Contains("   at "), "stack trace: " + context);
        Assert.True(r.ExitCode == 2, "exit code: " + context);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var errors = lines.Where(l => l.StartsWith(Cli.CommandRunner.Prefix)).ToList();
        Assert.True(errors.Count == 1 && lines[^1] == errors[0], "not one closing error line: " + context);
        string message = errors[0][Cli.CommandRunner.Prefix.Length..];
        Assert.True(Regex.IsMatch(message, c.Expect), $"'{message}' does not match /{c.Expect}/\n{context}");

        var after = Snapshot(scope);
        foreach (var (file, hash) in before)
        {
            Assert.True(after.TryGetValue(file, out var now), $"{file} was deleted\n{context}");
            Assert.True(hash == now, $"{file} was changed\n{context}");
        }
        var leftovers = after.Keys.Except(before.Keys).Where(f => TemporaryName().IsMatch(f)).ToList();
        Assert.True(leftovers.Count == 0, $"left behind: {string.Join(", ", leftovers)}\n{context}");
    }

    /// <summary>SHA-256 of every file below the roots (the case's inputs, the fixture's, the mounts').</summary>
    static Dictionary<string, string> Snapshot(IEnumerable<string> roots) =>
        roots.Where(Directory.Exists)
            .SelectMany(r => Directory.EnumerateFiles(r, "*", SearchOption.AllDirectories))
            // The filler is the full disk's; a lock file holds its holder's PID (and .NET could not even read it while held).
            .Where(f => !f.EndsWith("/filler") && Path.GetFileName(f) != NasPrune.Common.DirectoryLock.FileName)
            .ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>An atomic write's temporary file or a staging folder's content (".NAME.&lt;guid&gt;.tmp"), or a ".partial" leftover.</summary>
    [GeneratedRegex(@"/\.[^/]+\.[0-9a-f]{32}\.tmp(/|$)|\.partial(/|$)")]
    private static partial Regex TemporaryName();
}

/// <summary>A theory that needs tmpfs mounts: skipped, with the reason, where the tests cannot mount (not root, not Linux).</summary>
public sealed class MountTheoryAttribute : TheoryAttribute
{
    public MountTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "tmpfs mounts need Linux";
        else if (Environment.UserName != "root") Skip = $"mounting a tmpfs needs root (tests run as {Environment.UserName})";
    }
}
