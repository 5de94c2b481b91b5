namespace NasPrune.Common;

/// <summary>
/// How commands write a result folder: refuse to replace a non-empty one without --force (never lose a user's data),
/// build it in a ".partial" sibling, and publish it with one rename, so an interrupted run never leaves a half-written
/// model where a finished one is expected.
/// </summary>
public static class OutputDirectory
{
    public static void CheckWritable(string outDir, bool force)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !force)
            throw new UserError($"{outDir}: output directory exists and is not empty (pass --force to replace it)");
    }

    /// <summary>A fresh, empty staging folder beside <paramref name="outDir"/>.</summary>
    public static string BeginStaging(string outDir)
    {
        string staging = outDir + ".partial";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        return staging;
    }

    public static void Publish(string staging, string outDir)
    {
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.Move(staging, outDir);
    }
}
