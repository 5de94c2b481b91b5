using System.CommandLine;
using NasPrune.Cli;
using NasPrune.Cli.Commands;

var root = new RootCommand("NasPrune: structured pruning of LLaMA-family models by predictor-guided architecture search")
{
    InfoCommand.Create(),
    EvalCommand.Create(),
    TrainBaseCommand.Create(),
    ImportanceCommand.Create(),
    PruneCommand.Create(),
    PruneCommand.CreateExport(),
    PruneSweepCommand.Create(),
    BenchCommand.Create(),
};
return CommandRunner.Invoke(root, args);
