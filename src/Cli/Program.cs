using NasPrune.Cli;

// Tables printed to a file or a pipe get room to breathe (Spectre would assume 80 columns).
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 160;

// llama.cpp (bench generation) reports its errors on stderr, with NasPrune's own.
NasPrune.Evaluator.Export.LlamaCppModel.NativeErrors = Console.Error.Write;

return CommandRunner.Invoke(NasPruneCommands.Create(), args);
