using System.Diagnostics;

namespace NasPrune.Tests;

/// <summary>
/// Two small tmpfs mounts for I/O-fault tests: <see cref="ReadOnly"/> (mounted read-only after <c>populate</c> put
/// its inputs there) and <see cref="Full"/> (a filler file takes every free byte). Mounting needs root (CI
/// containers often run as root; a developer's machine may not): <see cref="Available"/> says whether it worked and
/// <see cref="Unavailable"/> why not, for the tests to skip with that reason.
/// </summary>
public sealed class ScratchMounts : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "nasprune-mounts-" + Guid.NewGuid().ToString("N"));
    public string ReadOnly => Path.Combine(Root, "ro");
    public string Full => Path.Combine(Root, "full");
    public string Filler => Path.Combine(Full, "filler");
    public bool Available => Unavailable is null;
    public string? Unavailable { get; }
    readonly List<string> mounted = [];

    public ScratchMounts(Action<string> populate, long fullBytes = 256 << 10)
    {
        Directory.CreateDirectory(ReadOnly);
        Directory.CreateDirectory(Full);
        Unavailable = Mount(ReadOnly, "size=8m") ?? Mount(Full, $"size={fullBytes}");
        if (!Available) return;
        populate(ReadOnly);
        Unavailable = Run("mount", "-o", "remount,ro", ReadOnly);
        if (!Available) return;
        FillUp();
    }

    /// <summary>Takes every free byte of <see cref="Full"/> (again, after a test freed some).</summary>
    public void FillUp()
    {
        using var f = new FileStream(Filler, FileMode.Append, FileAccess.Write);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                f.Write(block);
                f.Flush();
            }
        }
        catch (IOException) { } // ENOSPC: full
    }

    /// <summary>Shrinks the filler so that about <paramref name="bytes"/> of <see cref="Full"/> are free (tmpfs counts whole pages).</summary>
    public void LeaveFree(long bytes)
    {
        FillUp();
        using var f = new FileStream(Filler, FileMode.Open, FileAccess.Write);
        f.SetLength(Math.Max(0, f.Length - bytes));
    }

    /// <summary>Frees the whole of <see cref="Full"/> (the disk got space back).</summary>
    public void Free() => File.Delete(Filler);

    string? Mount(string dir, string options)
    {
        if (!OperatingSystem.IsLinux()) return "tmpfs mounts need Linux";
        if (Environment.UserName != "root") return $"mounting a tmpfs needs root (running as {Environment.UserName})";
        string? error = Run("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir);
        if (error is null) mounted.Add(dir);
        return error;
    }

    /// <summary>Runs a tool; null when it succeeded, else why not.</summary>
    static string? Run(string tool, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : $"{tool} {string.Join(' ', args)} failed: {err.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{tool} not runnable: {e.Message}";
        }
    }

    public void Dispose()
    {
        foreach (var dir in mounted) Run("umount", "-l", dir);
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
