namespace NasPrune.Evaluator.Checkpoints;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one, never a partial write.
/// </summary>
/// <remarks>
/// The content goes to a temporary file in the same directory (a rename is only atomic within one file
/// system), is flushed to disk, and is then renamed over the target. A crash or an exception mid-write
/// leaves at worst a stray hidden ".tmp" file, never a truncated model.safetensors that a later run would
/// trip over.
/// </remarks>
internal static class AtomicFile
{
    private const int BufferBytes = 1 << 20;

    public static void Write(string path, Action<FileStream> write)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferBytes))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
