using System.Runtime.InteropServices;
using System.Text;

namespace NasPrune.Common;

/// <summary>
/// One writer per directory: an exclusive advisory lock (<c>flock(LOCK_EX | LOCK_NB)</c>) on
/// <c>&lt;dir&gt;/.nasprune.lock</c>, held until disposed. A second writer is refused at once with the holder's PID
/// (written into the file). The kernel drops the lock when its holder dies, even by <c>kill -9</c>, so a stale
/// file never blocks a resume; the PID left in it is only a hint and is overwritten by the next holder.
/// On release the file is emptied, so finished directories compare equal byte for byte whoever wrote them.
/// </summary>
/// <remarks>
/// libc is called directly: .NET's own FileShare.None lock is also a flock, but .NET takes a shared flock on every
/// other open of the file, so the refused process could not even read the holder's PID.
/// </remarks>
public sealed class DirectoryLock : IDisposable
{
    public const string FileName = ".nasprune.lock";

    public string Path { get; }
    int fd = -1;
    FileStream? stream; // the lock where libc's flock is not used (see AcquirePortable)

    DirectoryLock(string path) => Path = path;

    /// <summary>Takes the lock on <paramref name="directory"/> (created if missing); <paramref name="what"/> names it in the refusal.</summary>
    /// <exception cref="UserError">Another process holds it.</exception>
    public static DirectoryLock Acquire(string directory, string what)
    {
        string dir = System.IO.Path.GetFullPath(directory);
        Directory.CreateDirectory(dir);
        string path = System.IO.Path.Combine(dir, FileName);
        if (!OperatingSystem.IsLinux()) return AcquirePortable(path, dir, what);

        int fd = Native.open(path, Native.O_RDWR | Native.O_CREAT | Native.O_CLOEXEC, Convert.ToInt32("644", 8));
        if (fd < 0) throw Fault(path);
        if (Native.flock(fd, Native.LOCK_EX | Native.LOCK_NB) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string holder = errno == Native.EWOULDBLOCK ? ReadPid(fd) : "";
            Native.close(fd);
            if (errno != Native.EWOULDBLOCK) throw Fault(path, errno);
            throw new UserError($"{dir}: {what} is locked by another nasprune process ({(holder.Length > 0 ? $"PID {holder}" : "PID not yet recorded")}, " +
                                $"{FileName}); one writer at a time: wait for it to finish or stop it");
        }
        var taken = new DirectoryLock(path) { fd = fd };
        taken.Record($"{Environment.ProcessId}\n");
        return taken;
    }

    /// <summary>Elsewhere .NET's FileShare.None is the exclusive lock (flock on macOS, a share mode on Windows); no PID is read back.</summary>
    static DirectoryLock AcquirePortable(string path, string dir, string what)
    {
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            stream.Write(Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"));
            stream.Flush();
            return new DirectoryLock(path) { stream = stream };
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && File.Exists(path))
        {
            throw new UserError($"{dir}: {what} is locked by another nasprune process ({FileName}); one writer at a time");
        }
    }

    void Record(string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        if (Native.ftruncate(fd, 0) != 0 || Native.pwrite(fd, bytes, bytes.Length, 0) != bytes.Length)
        {
            int errno = Marshal.GetLastPInvokeError();
            Dispose();
            throw Fault(Path, errno);
        }
    }

    /// <summary>
    /// The PID recorded in <paramref name="directory"/>'s lock file ("" when none is). Read through libc: .NET's own
    /// reads take a shared flock, which a held lock refuses.
    /// </summary>
    public static string RecordedPid(string directory)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetFullPath(directory), FileName);
        if (!OperatingSystem.IsLinux()) return File.Exists(path) ? File.ReadAllText(path).Trim() : "";
        int fd = Native.open(path, 0 /* O_RDONLY */ | Native.O_CLOEXEC, 0);
        if (fd < 0) return "";
        try { return ReadPid(fd); }
        finally { Native.close(fd); }
    }

    static string ReadPid(int fd)
    {
        var buffer = new byte[32];
        long n = Native.pread(fd, buffer, buffer.Length, 0);
        return n <= 0 ? "" : Encoding.ASCII.GetString(buffer, 0, (int)n).Trim();
    }

    /// <summary>The IOException .NET itself would raise (errno in HResult, path quoted), so <see cref="FileFault"/> names the cause.</summary>
    static IOException Fault(string path, int? errno = null)
    {
        int e = errno ?? Marshal.GetLastPInvokeError();
        return new IOException($"{Marshal.GetPInvokeErrorMessage(e)} : '{path}'", e);
    }

    public void Dispose()
    {
        // Empty the file while still holding the lock; closing releases it.
        if (fd >= 0)
        {
            Native.ftruncate(fd, 0);
            Native.close(fd);
            fd = -1;
        }
        if (stream is not null)
        {
            stream.SetLength(0);
            stream.Dispose();
            stream = null;
        }
    }

    static class Native
    {
        // Linux (x86-64 and arm64 share these values).
        public const int O_RDWR = 0x2, O_CREAT = 0x40, O_CLOEXEC = 0x80000;
        public const int LOCK_EX = 2, LOCK_NB = 4;
        public const int EWOULDBLOCK = 11;

        [DllImport("libc", SetLastError = true)] public static extern int open(string path, int flags, int mode);
        [DllImport("libc", SetLastError = true)] public static extern int flock(int fd, int operation);
        [DllImport("libc", SetLastError = true)] public static extern int ftruncate(int fd, long length);
        [DllImport("libc", SetLastError = true)] public static extern long pwrite(int fd, byte[] buffer, long count, long offset);
        [DllImport("libc", SetLastError = true)] public static extern long pread(int fd, byte[] buffer, long count, long offset);
        [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    }
}
