using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace NasPrune.Cli;

/// <summary>
/// Where a command's output goes: results on stdout (a table for people, one JSON object with --json),
/// progress and logs on stderr, so `nasprune ... --json | jq` always sees clean JSON.
/// </summary>
public static class Output
{
    public static readonly IAnsiConsole Err = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
    });

    public static string ToJson<T>(T value) => Common.ReportJson.Serialize(value);

    public static void WriteJson<T>(T value) => Console.Out.WriteLine(ToJson(value));

    public static void Log(string message) => Console.Error.WriteLine(message);

    /// <summary>Library progress on this console: log lines and progress bars on stderr.</summary>
    public static readonly Common.IProgressReporter Reporter = new ConsoleReporter();

    sealed class ConsoleReporter : Common.IProgressReporter
    {
        public void Log(string message) => Output.Log(message);
        public T Track<T>(string label, int total, Func<IProgress<int>, T> work) => WithProgress(label, total, work);
    }

    /// <summary>Runs <paramref name="work"/> under a progress bar on stderr; the bar advances on each report.</summary>
    public static T WithProgress<T>(string description, int total, Func<IProgress<int>, T> work)
    {
        T result = default!;
        Err.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
                result = work(new Progress(task));
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Synchronous progress (System.Progress posts to the thread pool, which would lag the bar).</summary>
    sealed class Progress(ProgressTask task) : IProgress<int>
    {
        public void Report(int value) => task.Value = value;
    }
}
