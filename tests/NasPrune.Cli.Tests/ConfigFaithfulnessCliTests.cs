using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The command line refuses a config.json field it does not compute (see <c>ConfigFaithfulnessTests</c> for the library).</summary>
public sealed class ConfigFaithfulnessCliTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-faithful-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    string ConfigPath => Path.Combine(dir, HfCheckpoint.ConfigFile);

    [Fact]
    public void CliRefusesAnUncomputedFieldWithExitCode2AndOneLine()
    {
        using (var m = TestModels.Tiny(TestModels.SmallConfig())) HfCheckpoint.SaveModel(m, dir);
        var j = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        j["final_logit_softcapping"] = 30.0;
        File.WriteAllText(ConfigPath, j.ToJsonString());
        var r = CliProcess.Run("info", "--model", dir);
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("nasprune: error: ", lines[0]);
        Assert.Contains("config.json", lines[0]);
        Assert.Contains("final_logit_softcapping", lines[0]);
    }
}
