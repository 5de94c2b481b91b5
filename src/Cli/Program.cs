using System.CommandLine;
using NasPrune.Cli;
using NasPrune.Cli.Campaign;
using NasPrune.Cli.Commands;

// Tables printed to a file or a pipe get room to breathe (Spectre would assume 80 columns).
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 160;

var root = new RootCommand("NasPrune: structured pruning of LLaMA-family models by predictor-guided architecture search")
{
    InfoCommand.Create(),
    EvalCommand.Create(),
    TrainBaseCommand.Create(),
    ImportanceCommand.Create(),
    PruneCommand.Create(),
    PruneCommand.CreateExport(),
    PruneSweepCommand.Create(),
    SampleCommand.Create(),
    FaithfulnessCommand.Create(),
    PairsCommand.Create(),
    CampaignCommand.Create(),
    ReportCommand.Create(),
    BenchCommand.Create(),
    GenerateCommand.Create(),
    PredictorCommand.Create(),
    SynthCommand.Create(),
};
return CommandRunner.Invoke(root, args);
