namespace NasPrune.Common.Pairs;

/// <summary>
/// What makes the pairs of one directory comparable, stored in its <see cref="FileName"/>: the base model and the
/// importance ordering (its hash: workers must order heads and channels identically, or one architecture id would
/// mean different weights), the budget band and bounds, the sampling seed, and the measure (windows, tasks,
/// sequence length, NLL and/or KL). Whoever appends rows (<c>PairRunner</c>) checks it first, so neither a resumed
/// or parallel <c>sample</c> nor a campaign can mix protocols in one directory. <see cref="Measure"/> and
/// <see cref="KlTopK"/> are null (not written) for the default nll, so directories sampled before KL existed still resume.
/// </summary>
public sealed record PairProtocol(
    string BaseModel, string Criterion, CalibrationSettings Calibration, double MinKept, double MaxKept, string BudgetMetric,
    string? Bounds, string ImportanceHash, long Seed, int Windows, long WindowSeed, IReadOnlyList<string> Tasks, string? ZeroShotTask, int? ZeroShotItems,
    int SeqLen, string NasPruneVersion, string? Measure = null, int? KlTopK = null)
{
    public const string FileName = "sample.json";

    public static PairProtocol Load(string pairsDirectory) =>
        JsonFile.Load<PairProtocol>(Path.Combine(pairsDirectory, FileName), "pairs protocol (written by nasprune sample and by campaigns)");

    /// <summary>Writes the protocol into an empty directory, or checks that the directory's protocol is this one.</summary>
    public void CheckOrWrite(string pairsDirectory)
    {
        string path = Path.Combine(pairsDirectory, FileName);
        string text = ReportJson.Serialize(this);
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing != text.Trim())
                throw new UserError($"{path}: this pairs directory was sampled with other settings ({FirstDifference(existing, text)}); use another --out");
            return;
        }
        Directory.CreateDirectory(pairsDirectory);
        AtomicFile.WriteAllText(path, text + "\n");
    }

    static string FirstDifference(string a, string b)
    {
        var left = a.Split('\n').Select(l => l.Trim()).ToArray();
        var right = b.Split('\n').Select(l => l.Trim()).ToArray();
        for (int i = 0; i < Math.Min(left.Length, right.Length); i++)
            if (left[i] != right[i]) return $"stored {left[i].TrimEnd(',')}, now {right[i].TrimEnd(',')}";
        return "different length";
    }
}
