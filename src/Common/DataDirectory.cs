namespace NasPrune.Common;

/// <summary>
/// Finds the product's data folder (evaluation splits, training corpus, embedded models). Order: an explicit
/// path, then $NASPRUNE_DATA, then the nearest folder named "data" holding "eval/" above the program or the
/// working directory (so it works from a clone, from bin/, and from the test runner).
/// </summary>
public static class DataDirectory
{
    public const string EnvironmentVariable = "NASPRUNE_DATA";

    public static string Resolve(string? explicitPath = null)
    {
        if (!string.IsNullOrEmpty(explicitPath))
        {
            if (!Directory.Exists(explicitPath)) throw new UserError($"{explicitPath}: data directory not found");
            return Path.GetFullPath(explicitPath);
        }
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (!Directory.Exists(fromEnv)) throw new UserError($"${EnvironmentVariable}={fromEnv}: data directory not found");
            return Path.GetFullPath(fromEnv);
        }
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "data");
                if (Directory.Exists(Path.Combine(candidate, "eval"))) return candidate;
            }
        }
        throw new UserError($"no data directory found: pass --data or set ${EnvironmentVariable} to the repository's data/ folder");
    }

    /// <summary>The embedded default model that ships with NasPrune.</summary>
    public const string DefaultModelName = "nasprune-tiny-llama";

    public static string DefaultModel(string? dataDir = null) => Path.Combine(Resolve(dataDir), "models", DefaultModelName);
}
