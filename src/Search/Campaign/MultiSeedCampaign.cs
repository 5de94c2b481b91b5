using NasPrune.Common;

namespace NasPrune.Search.Campaign;

/// <summary>
/// A configuration with several seeds: one whole campaign per seed in &lt;root&gt;/seed-&lt;s&gt;/ (each resumable on
/// its own), then &lt;root&gt;/summary.json and summary.md with each method's mean ± std over the seeds
/// (<see cref="SeedSummary"/>). A single-seed configuration is one campaign in &lt;root&gt; itself, as before.
/// </summary>
public static class MultiSeedCampaign
{
    public static string SeedDirectory(string root, long seed) => Path.Combine(root, $"seed-{seed}");

    public static SeedSummary Run(CampaignConfig c, string root, string dataDir, TorchSharp.torch.Device device, IProgressReporter reporter)
    {
        var seeds = c.SeedsToRun;
        foreach (long seed in seeds)
        {
            reporter.Log($"seed {seed} ({seeds.ToList().IndexOf(seed) + 1} of {seeds.Count})");
            // One lock per seed: separate processes may run different seeds of one configuration side by side.
            using var seedLock = DirectoryLock.Acquire(SeedDirectory(root, seed), "campaign seed directory");
            CampaignPipeline.Run(c.WithSeed(seed), new CampaignPaths(SeedDirectory(root, seed)), dataDir, device, reporter);
        }
        return SeedSummary.Write(root, seeds.Select(s => SeedDirectory(root, s)).ToList());
    }
}
