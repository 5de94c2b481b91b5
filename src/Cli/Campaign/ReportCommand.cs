using System.CommandLine;

using NasPrune.Search.Campaign;

namespace NasPrune.Cli.Campaign;

/// <summary><c>nasprune report --run DIR</c>: rewrites report.md and its figures from a finished run directory.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "a campaign's run directory (with results.json)", Required = true };
        var json = CliOptions.Json();
        var command = new Command("report", "Write report.md and its PNG figures from a finished campaign run directory") { run, json };
        command.SetAction(parse =>
        {
            string dir = Path.GetFullPath(parse.GetValue(run)!);
            if (!Directory.Exists(dir)) throw new Common.UserError($"{dir}: run directory not found");
            string path = CampaignReport.Write(new CampaignPaths(dir));
            if (parse.GetValue(json)) Output.WriteJson(new { Report = path });
            else Console.WriteLine($"report: {path}");
            return 0;
        });
        return command;
    }
}
