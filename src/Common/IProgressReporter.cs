namespace NasPrune.Common;

/// <summary>
/// How library code reports long work: log lines, and labelled stages of a known total that advance through an
/// <see cref="IProgress{T}"/>. The command line draws progress bars on stderr; tests and scripts pass
/// <see cref="SilentProgress"/>. Libraries never write to the console themselves.
/// </summary>
public interface IProgressReporter
{
    void Log(string message);

    /// <summary>Runs <paramref name="work"/> as one stage of <paramref name="total"/> steps; the work reports the steps done so far.</summary>
    T Track<T>(string label, int total, Func<IProgress<int>, T> work);
}

/// <summary>Reports nothing, or only log lines to <c>log</c>.</summary>
public sealed class SilentProgress(Action<string>? log = null) : IProgressReporter
{
    public static readonly SilentProgress Instance = new();

    public void Log(string message) => log?.Invoke(message);

    public T Track<T>(string label, int total, Func<IProgress<int>, T> work) => work(Ignored.Instance);

    sealed class Ignored : IProgress<int>
    {
        public static readonly Ignored Instance = new();
        public void Report(int value) { }
    }
}
