using System.Diagnostics;

namespace NasPrune.Evaluator.Runtime;

/// <summary>This process's resident memory now and at its peak (Linux /proc/self/status VmRSS, VmHWM), in bytes.</summary>
public static class ProcessMemory
{
    public static (long Rss, long Peak) Read()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) { using var p = Process.GetCurrentProcess(); return (p.WorkingSet64, p.PeakWorkingSet64); }
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith("VmRSS:")) rss = Kilobytes(line);
            else if (line.StartsWith("VmHWM:")) peak = Kilobytes(line);
        }
        return (rss, peak);
    }

    /// <summary>Memory the machine can still give without swapping (/proc/meminfo MemAvailable), in bytes; long.MaxValue where unknown.</summary>
    public static long Available()
    {
        const string meminfo = "/proc/meminfo";
        if (!File.Exists(meminfo)) return long.MaxValue;
        foreach (var line in File.ReadLines(meminfo))
            if (line.StartsWith("MemAvailable:")) return Kilobytes(line);
        return long.MaxValue;
    }

    static long Kilobytes(string line) => long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0]) * 1024;

    /// <summary>"RSS 1.23 GiB (peak 1.50 GiB)".</summary>
    public static string Describe()
    {
        var (rss, peak) = Read();
        return $"RSS {rss / (double)(1L << 30):F2} GiB (peak {peak / (double)(1L << 30):F2} GiB)";
    }
}
