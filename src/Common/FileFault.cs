using System.Text.RegularExpressions;

namespace NasPrune.Common;

/// <summary>
/// Turns an operating-system fault (full disk, read-only mount, a file where a directory is needed, no permission)
/// into the one line a user can act on: "&lt;path&gt;: &lt;cause&gt;". .NET reports these as IOException or
/// UnauthorizedAccessException with the errno in HResult and the path buried in a sentence; the cause is named here
/// from the errno, because the sentence differs between .NET versions and platforms while the errno does not.
/// </summary>
public static partial class FileFault
{
    /// <summary>Linux errno values (HResult of an IOException raised from a failed system call).</summary>
    static readonly Dictionary<int, string> Causes = new()
    {
        [1] = "operation not permitted",
        [2] = "no such file or directory",
        [5] = "input/output error",
        [13] = "permission denied",
        [17] = "already exists",
        [20] = "not a directory",
        [21] = "is a directory",
        [24] = "too many open files",
        [27] = "file too large",
        [28] = "no space left on device",
        [30] = "read-only file system",
        [36] = "file name too long",
        [39] = "directory not empty",
        [122] = "disk quota exceeded",
    };

    /// <summary>"path: cause" for an I/O fault of the operating system, or null when <paramref name="e"/> is none.</summary>
    public static string? Describe(Exception e)
    {
        if (e is not (IOException or UnauthorizedAccessException)) return null;
        string? path = PathOf(e.Message);
        string cause = e switch
        {
            FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
            UnauthorizedAccessException when path is not null && IsReadOnlyMount(path) => "read-only file system",
            UnauthorizedAccessException => "permission denied",
            _ when Causes.TryGetValue(e.HResult, out var c) => c,
            _ => OneLine(e.Message),
        };
        if (path is null) return cause;
        // A file where a directory was expected (or the reverse) is what the user must fix: say so plainly.
        if (cause is "already exists" or "not a directory" or "no such file or directory" && FileOnTheWay(path) is { } file) return $"{file}: is a file";
        return $"{UserPath(path)}: {cause}";
    }

    /// <summary>The regular file at <paramref name="path"/> or at one of its parents, if any: what blocked a directory.</summary>
    public static string? FileOnTheWay(string path)
    {
        for (string? p = Path.GetFullPath(path); !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
            if (File.Exists(p)) return p;
        return null;
    }

    /// <summary>The path .NET quotes in its message ('...'), the first one when there are two (a move names its source first).</summary>
    static string? PathOf(string message)
    {
        var m = QuotedPath().Match(message);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>
    /// The name the user asked for: an atomic write's temporary sibling ".NAME.&lt;guid&gt;.tmp" (see
    /// <see cref="AtomicFile"/>), or a staging folder of that form anywhere in the path, stands for NAME, which is what
    /// the user gave and will look for.
    /// </summary>
    static string UserPath(string path) => TemporarySibling().Replace(path, "/$1$2");

    /// <summary>Whether the mount holding <paramref name="path"/> (or its nearest existing parent) is read-only (/proc/self/mounts).</summary>
    public static bool IsReadOnlyMount(string path)
    {
        try
        {
            string full = Path.GetFullPath(path);
            var mounts = File.ReadAllLines("/proc/self/mounts")
                .Select(l => l.Split(' '))
                .Where(f => f.Length >= 4)
                .Select(f => (Point: f[1].Replace("\\040", " "), ReadOnly: f[3].Split(',').Contains("ro")))
                .Where(m => full == m.Point || full.StartsWith(m.Point.TrimEnd('/') + "/"))
                .MaxBy(m => m.Point.Length);
            return mounts.ReadOnly;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // no /proc (not Linux): "permission denied" is still true
        }
    }

    static string OneLine(string s)
    {
        s = s.Split('\n')[0].Trim();
        return s.Length > 0 && char.IsUpper(s[0]) && !(s.Length > 1 && char.IsUpper(s[1])) ? char.ToLowerInvariant(s[0]) + s[1..] : s;
    }

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex QuotedPath();

    [GeneratedRegex(@"/\.([^/]+)\.[0-9a-f]{32}\.tmp(/|$)")]
    private static partial Regex TemporarySibling();
}
