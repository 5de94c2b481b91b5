using System.CommandLine;
using NasPrune.Common;

namespace NasPrune.Cli;

/// <summary>
/// Runs the parsed command. A user's mistake (<see cref="UserError"/>, a missing file) becomes one line on
/// stderr and exit code 2; anything else is a bug in NasPrune and keeps its stack trace (exit code 1).
/// </summary>
public static class CommandRunner
{
    public const int UserErrorExit = 2;

    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e) when (Unwrap(e) is UserError or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"nasprune: error: {Unwrap(e).Message}");
            return UserErrorExit;
        }
    }

    static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
        : e is TypeInitializationException { InnerException: { } inner } ? Unwrap(inner)
        : e;
}
