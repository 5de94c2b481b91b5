using System.CommandLine;
using NasPrune.Cli.Bench;
using NasPrune.Cli.Campaign;
using NasPrune.Cli.Commands;

namespace NasPrune.Cli;

/// <summary>Every command of <c>nasprune</c>: one tree, used by the program and by tests that run commands in-process.</summary>
public static class NasPruneCommands
{
    public static RootCommand Create() => new("NasPrune: structured pruning of LLaMA-family models by predictor-guided architecture search")
    {
        InfoCommand.Create(),
        EvalCommand.Create(),
        TrainBaseCommand.Create(),
        ImportanceCommand.Create(),
        PruneCommand.Create(),
        PruneCommand.CreateExport(),
        GgufCheckCommand.Create(),
        PruneSweepCommand.Create(),
        SampleCommand.Create(),
        FaithfulnessCommand.Create(),
        PairsCommand.Create(),
        CampaignCommand.Create(),
        ReportCommand.Create(),
        BenchCommand.Create(),
        GenerateCommand.Create(),
        SynthCommand.Create(),
        PredictorCommand.Create(),
    };
}
