
namespace NasPrune.Common;

/// <summary>
/// Checks a single-file --out before any work starts, so a mistake costs seconds, not a computation: a directory in
/// its place, an existing file (replaced only with --force, where the command offers it), a read-only mount.
/// </summary>
public static class OutputFile
{
    /// <param name="force">Whether an existing file may be replaced; null where the command never replaces one.</param>
    public static string Check(string path, bool? force)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UserError($"{full}: is a directory (--out names a file)");
        if (Path.GetDirectoryName(full) is { } parent && FileFault.FileOnTheWay(parent) is { } file) throw new UserError($"{file}: is a file");
        if (File.Exists(full) && force != true)
            throw new UserError(force is null
                ? $"{full}: already exists; choose another --out"
                : $"{full}: already exists (pass --force to replace it)");
        CheckMount(full);
        return full;
    }

    /// <summary>Refuses a folder --out that is a file or lies below one, or sits on a read-only mount.</summary>
    public static string CheckFolder(string path)
    {
        string full = Path.GetFullPath(path);
        if (FileFault.FileOnTheWay(full) is { } file)
            throw new UserError(file == full ? $"{full}: is a file (--out names a directory)" : $"{file}: is a file");
        CheckMount(full);
        return full;
    }

    /// <summary>Refuses a target on a read-only mount (what is not there yet would fail to be created at the very end).</summary>
    public static void CheckMount(string full)
    {
        if (FileFault.IsReadOnlyMount(full)) throw new UserError($"{full}: read-only file system");
    }
}
