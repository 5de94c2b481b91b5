using System.CommandLine;
using NasPrune.Common;

namespace NasPrune.Cli;

/// <summary>
/// Runs the parsed command. A user's mistake (<see cref="UserError"/>, a missing file, an option that does not parse)
/// and a fault of the operating system (full disk, read-only mount, a file where a directory belongs: see
/// <see cref="FileFault"/>) become one line on stderr and exit code 2; anything else is a bug in NasPrune and keeps
/// its stack trace (exit code 1 or the runtime's).
/// </summary>
public static class CommandRunner
{
    public const int UserErrorExit = 2;
    public const string Prefix = "nasprune: error: ";

    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        // System.CommandLine would print its own multi-line report (and the help) and exit 1; the contract is one line.
        if (parse.Errors.Count > 0)
        {
            Console.Error.WriteLine(Prefix + string.Join("; ", parse.Errors.Select(e => e.Message).Distinct()));
            return UserErrorExit;
        }
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e) when (Message(Unwrap(e)) is { } line)
        {
            Console.Error.WriteLine(Prefix + line);
            return UserErrorExit;
        }
    }

    /// <summary>The one line for a user error or an I/O fault; null for a bug.</summary>
    static string? Message(Exception e) => e is UserError ? e.Message : FileFault.Describe(e);

    static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
        : e is TypeInitializationException { InnerException: { } inner } ? Unwrap(inner)
        : e;
}
