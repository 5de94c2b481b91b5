using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;

namespace NasPrune.Tests.BadInputs;

/// <summary>
/// The good inputs the bad-input cases start from, made once: a tiny model (its importance cached, so cases that get
/// that far take milliseconds), real pairs sampled from it (with sample.json), synthetic pairs of another base model,
/// an architecture file, a finished campaign run directory (the committed reference run) and a tiny campaign config;
/// plus the read-only and full tmpfs mounts, with copies of those inputs on the read-only one.
/// </summary>
public sealed class BadInputFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "nasprune-badinput-" + Guid.NewGuid().ToString("N"));
    public string Model => Path.Combine(Root, "model");
    public string Pairs => Path.Combine(Root, "pairs");
    public string OtherModelPairs => Path.Combine(Root, "other-pairs");
    public string Arch => Path.Combine(Root, "arch.json");
    public string Run => Path.Combine(Root, "run");
    public string CampaignConfig => Path.Combine(Root, "campaign.yaml");
    public ScratchMounts Mounts { get; }
    readonly TinyModelDirectory tiny = new();

    public BadInputFixture()
    {
        Directory.CreateDirectory(Root);
        CopyDirectory(tiny.Dir, Model);
        var config = HfCheckpoint.LoadConfig(Model);
        new PruningSpace(config, HfCheckpoint.ModelHash(Model)).Uniform(0.3).Save(Arch);
        Expect(InProcessCli.Run("sample", "--model", Model, "--out", Pairs, "--count", "3", "--windows", "2", "--min-kept", "0.5",
            "--max-kept", "0.8", "--calibration-seed", "1234", "--device", "cpu"));
        // Importance for prune/export's defaults too (32 calibration windows), so those cases never compute it.
        Expect(InProcessCli.Run("importance", "--model", Model, "--device", "cpu"));
        Expect(InProcessCli.Run("predictor", "synthetic-pairs", "--out", OtherModelPairs, "--count", "30"));
        string repo = Path.GetDirectoryName(DataDirectory.Resolve())!;
        CopyDirectory(Path.Combine(repo, "experiments", "default", "run-20-faithful"), Run);
        File.WriteAllText(CampaignConfig, $$"""
            name: tiny
            model: {{Model}}
            remove: 0.3
            band_width: 0.1
            pairs: {count: 10, windows: 2}
            predictor: {number_of_trees: 10, number_of_leaves: 4}
            shrink: {rounds: 1, sample_size: 20}
            evolution: {population: 6, generations: 2, elites: 2}
            active: {rounds: 1, top_k: 2, patience: 1, screen_windows: 1}
            peer_evolution: {screen_windows: 1}
            final: {max_windows: 1, blimp_limit: 0, mmlu_limit: 0, zeroshot_limit: 0, recover: [none], export: false}
            """);
        Mounts = new ScratchMounts(ro =>
        {
            CopyDirectory(Model, Path.Combine(ro, "model"));
            CopyDirectory(Pairs, Path.Combine(ro, "pairs"));
            CopyDirectory(Run, Path.Combine(ro, "run"));
            File.Copy(Arch, Path.Combine(ro, "arch.json"));
        });
    }

    static void Expect(CliProcess.Result r)
    {
        if (r.ExitCode != 0) throw new InvalidOperationException($"fixture command failed ({r.ExitCode}): {r.Stderr}");
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    public void Dispose()
    {
        Mounts.Dispose();
        tiny.Dispose();
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
