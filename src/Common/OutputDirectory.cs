namespace NasPrune.Common;

/// <summary>
/// How commands write a result folder: refuse to replace a non-empty one without --force (never lose a user's data),
/// build it in a staging sibling, and publish it with one rename, so an interrupted run never leaves a half-written
/// model where a finished one is expected.
/// </summary>
public static class OutputDirectory
{
    public static void CheckWritable(string outDir, bool force)
    {
        OutputFile.CheckFolder(outDir);
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !force)
            throw new UserError($"{outDir}: output directory exists and is not empty (pass --force to replace it)");
    }

    /// <summary>
    /// Writes the result folder through <paramref name="write"/> into a fresh staging folder, then publishes it as
    /// <paramref name="outDir"/>. The staging folder is created here and removed here when <paramref name="write"/>
    /// fails (a full disk), so a fault leaves neither a half-written result nor our leftovers.
    /// </summary>
    public static void Write(string outDir, Action<string> write)
    {
        string staging = BeginStaging(outDir);
        try
        {
            write(staging);
            Publish(staging, outDir);
        }
        catch
        {
            TryDelete(staging);
            throw;
        }
    }

    /// <summary>
    /// A fresh, empty staging folder beside <paramref name="outDir"/>. Its name holds a random 128-bit part (the
    /// ".NAME.&lt;guid&gt;.tmp" form of <see cref="AtomicFile"/>, which <see cref="FileFault"/> reports as NAME), so it
    /// is never a folder a user made: nothing that exists is reused or deleted.
    /// </summary>
    public static string BeginStaging(string outDir)
    {
        string full = Path.GetFullPath(outDir);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        if (Path.Exists(staging)) throw new IOException($"staging folder '{staging}' already exists", 17);
        Directory.CreateDirectory(staging);
        return staging;
    }

    public static void Publish(string staging, string outDir)
    {
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.Move(staging, outDir);
    }

    static void TryDelete(string staging)
    {
        try
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original fault is what the user must see; a staging folder we could not remove is only clutter.
        }
    }
}
