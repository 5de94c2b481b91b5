using System.CommandLine;
using NasPrune.Common;
using NasPrune.Evaluator.Runtime;

using NasPrune.Search.Campaign;

namespace NasPrune.Cli.Campaign;

/// <summary><c>nasprune campaign --config FILE</c>: runs <see cref="CampaignPipeline"/> and prints its result table.</summary>
public static class CampaignCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "campaign configuration (YAML or JSON; see experiments/default/campaign.yaml)", Required = true };
        var output = new Option<string?>("--out") { Description = "run directory (default: runs/<name>)" };
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var data = CliOptions.Data();
        var printConfig = new Option<bool>("--print-config") { Description = "print the resolved configuration with every default (YAML) and exit" };
        var seeds = new Option<long[]>("--seeds")
        {
            Description = "run one whole campaign per seed into <out>/seed-<s>/ and summarise them (mean ± std) in <out>/summary.md; overrides the config's seeds",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("campaign", "Run the whole search pipeline on one model and budget (resumable; writes results.json and report.md)")
        {
            config, output, device, json, data, printConfig, seeds,
        };
        command.SetAction(parse =>
        {
            string configPath = parse.GetValue(config)!;
            var c = CampaignConfig.Load(configPath);
            if (parse.GetValue(seeds) is { Length: > 0 } seedList)
            {
                if (seedList.Distinct().Count() != seedList.Length) throw new UserError("--seeds: a seed is repeated");
                c.Seeds = seedList.ToList();
            }
            if (parse.GetValue(printConfig))
            {
                Console.Write(c.ToYaml());
                return 0;
            }
            var paths = new CampaignPaths(Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", c.Name)));
            string dataDir = DataDirectory.Resolve(parse.GetValue(data));
            var torchDevice = DeviceChoice.Resolve(parse.GetValue(device));
            if (c.Seeds.Count > 0)
            {
                var summary = MultiSeedCampaign.Run(c, paths.Root, dataDir, torchDevice, Output.Reporter);
                if (parse.GetValue(json)) Output.WriteJson(summary);
                else
                {
                    Console.Write(summary.ToMarkdown());
                    Console.WriteLine($"summary: {Path.Combine(paths.Root, SeedSummary.MarkdownName)}");
                }
                return 0;
            }
            // One campaign per run directory: two would race on the same stage files (see DirectoryLock).
            using var runLock = DirectoryLock.Acquire(paths.Root, "campaign run directory");
            var results = CampaignPipeline.Run(c, paths, dataDir, torchDevice, Output.Reporter);
            if (parse.GetValue(json)) Output.WriteJson(results);
            else
            {
                foreach (var r in results.Rows)
                    Console.WriteLine($"{r.Method.Key(),-10} {r.Recovery,-5} params {r.Params,12:N0}  WikiText-2 {r.Wikitext2Ppl,9:F2}  PTB {r.PtbPpl,9:F2}  " +
                                      $"BLiMP {r.BlimpAcc?.ToString("P1") ?? "–",7}  MMLU {r.MmluAcc?.ToString("P1") ?? "–",7}  zero-shot {r.ZeroshotAvg?.ToString("P1") ?? "–",7}  latency {r.LatencyMs:F1} ms  window-evals {r.WindowEvaluations:N0}");
                Console.WriteLine($"report: {paths.Report}");
            }
            return 0;
        });
        return command;
    }
}
