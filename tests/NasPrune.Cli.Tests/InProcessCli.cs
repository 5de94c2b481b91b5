using NasPrune.Cli;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// Runs a `nasprune` command inside the test process, through the same <see cref="CommandRunner"/> the program uses
/// (parse, exit code, one-line errors), with stdout and stderr captured. Tens of times faster than a child process
/// (no runtime and libtorch start per run), which is what lets the bad-input suite try hundreds of inputs.
/// Console redirection is process-wide, so users of this class belong to <see cref="InProcessCliCollection"/>,
/// which xunit runs alone.
/// </summary>
public static class InProcessCli
{
    static readonly Lock Gate = new();

    public static CliProcess.Result Run(params string[] args)
    {
        lock (Gate)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = CommandRunner.Invoke(NasPruneCommands.Create(), args);
                return new CliProcess.Result(code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}

/// <summary>Tests that redirect the console (see <see cref="InProcessCli"/>) run with nothing else in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessCliCollection
{
    public const string Name = "in-process CLI";
}
