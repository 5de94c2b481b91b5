using NasPrune.Common;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// Importance scores cached as JSON beside the model they score:
/// <c>&lt;modelDir&gt;/.nasprune/importance/&lt;modelHash&gt;-&lt;criterion&gt;-&lt;settings key&gt;.json</c>, or, where the
/// model directory is read-only, the same file name under $XDG_CACHE_HOME/nasprune/importance (default
/// ~/.cache/nasprune/importance). A cached file is used only when the scores in it say they are for the requested
/// model hash, criterion and calibration settings: a stale, edited or unreadable file is computed afresh.
/// </summary>
public static class ImportanceCache
{
    public static ImportanceScores GetOrCompute(string modelDir, string modelHash, IImportanceCriterion criterion,
        CalibrationSettings settings, Func<ImportanceScores> compute)
    {
        string name = FileName(modelHash, criterion.Name, settings);
        var candidates = new[] { Path.Combine(ModelCacheDirectory(modelDir), name), Path.Combine(UserCacheDirectory(), name) };
        foreach (var path in candidates)
            if (TryLoad(path) is { } cached && Matches(cached, modelHash, criterion.Name, settings)) return cached;

        var scores = compute();
        if (!Matches(scores, modelHash, criterion.Name, settings))
            throw new InvalidOperationException(
                $"criterion {criterion.Name} returned scores for {scores.Criterion}/{scores.ModelHash}/{scores.Calibration.Key}, " +
                $"asked for {criterion.Name}/{modelHash}/{settings.Key}");
        foreach (var path in candidates)
        {
            try { scores.Save(path); return scores; }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException) { /* read-only: try the next place */ }
        }
        return scores; // nowhere writable: still correct, only not cached
    }

    /// <summary>The cache file name for a request; settings keys and names are made safe for file systems.</summary>
    public static string FileName(string modelHash, string criterion, CalibrationSettings settings) =>
        Safe($"{modelHash}-{criterion}-{settings.Key}") + ".json";

    public static string ModelCacheDirectory(string modelDir) => Path.Combine(modelDir, ".nasprune", "importance");

    public static string UserCacheDirectory()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "nasprune", "importance");
    }

    static bool Matches(ImportanceScores s, string modelHash, string criterion, CalibrationSettings settings) =>
        s.ModelHash == modelHash && s.Criterion == criterion && s.Calibration == settings;

    static ImportanceScores? TryLoad(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var s = ImportanceScores.Load(path);
            // A hand-edited file can lack fields; the deserializer then leaves them null despite the types.
            return s.Heads is null || s.Channels is null || s.Layers is null || s.Calibration is null ? null : s;
        }
        catch (Exception e) when (e is UserError or IOException or UnauthorizedAccessException or NotSupportedException) { return null; }
    }

    static string Safe(string name)
    {
        var invalid = Path.GetInvalidFileNameChars();
        return new string(name.Select(ch => invalid.Contains(ch) || ch == ' ' ? '_' : ch).ToArray());
    }
}
