using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// Issue 15 §4: a result folder is staged under a name no user has (a hidden sibling with a random part) and renamed
/// into place, so a user's own "X.partial" beside --out X is never reused or deleted.
/// </summary>
public sealed class OutputStagingTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "nasprune-staging-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void PruneOutLeavesTheUsersPartialFolderAloneAndLeavesNoStagingBehind()
    {
        string outDir = Path.Combine(root, "pruned"), users = outDir + ".partial";
        Directory.CreateDirectory(users);
        File.WriteAllText(Path.Combine(users, "notes.txt"), "my work\n");

        var r = CliProcess.Run("prune", "--model", tiny.Dir, "--criterion", "magnitude", "--eval-windows", "1", "--out", outDir, "--device", "cpu", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);

        Assert.Equal("my work\n", File.ReadAllText(Path.Combine(users, "notes.txt")));
        Assert.Equal([Path.Combine(users, "notes.txt")], Directory.GetFiles(users));
        foreach (var file in new[] { "config.json", "model.safetensors", "architecture.json", "prune.json", "README.md" })
            Assert.True(File.Exists(Path.Combine(outDir, file)), file);
        // Only the result and the user's folder: the staging folder was renamed, not copied.
        Assert.Equal([outDir, users], Directory.GetFileSystemEntries(root).Order(StringComparer.Ordinal));
    }
}
