using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// MMLU in the layout of the original release (Hendrycks et al., <c>data.tar</c>): <c>dev/&lt;subject&gt;_dev.csv</c>
/// holds the few-shot examples, <c>test/&lt;subject&gt;_test.csv</c> the scored questions. Rows have no header and
/// read question, A, B, C, D, answer letter. Any folder in this layout works, so users can point at their own copy.
/// </summary>
public static class MmluDataset
{
    const string DevSuffix = "_dev.csv", TestSuffix = "_test.csv";

    /// <summary>
    /// The MMLU folder for a <c>--data</c> argument: the folder itself when it is in MMLU's layout (dev/ and
    /// test/), otherwise NasPrune's copy inside a data folder, <c>eval/mmlu</c>.
    /// </summary>
    public static string Locate(string dataDir)
    {
        if (IsMmluLayout(dataDir)) return dataDir;
        string inside = Path.Combine(dataDir, "eval", "mmlu");
        if (IsMmluLayout(inside)) return inside;
        throw new UserError($"{dataDir}: neither an MMLU folder (dev/ and test/) nor a data folder with eval/mmlu/");
    }

    public static bool IsMmluLayout(string dir) =>
        Directory.Exists(Path.Combine(dir, "dev")) && Directory.Exists(Path.Combine(dir, "test"));

    /// <summary>
    /// Loads every subject that has a test file, with the first <paramref name="limit"/> test questions (all when
    /// null). <paramref name="shots"/> dev examples must exist for each subject.
    /// </summary>
    public static IReadOnlyList<MmluSubject> Load(string dir, int shots, int? limit = null)
    {
        string testDir = Path.Combine(dir, "test"), devDir = Path.Combine(dir, "dev");
        var subjects = Directory.GetFiles(testDir, "*" + TestSuffix)
            .Select(p => Path.GetFileName(p)[..^TestSuffix.Length])
            .Order(StringComparer.Ordinal)
            .ToList();
        if (subjects.Count == 0) throw new UserError($"{testDir}: no *{TestSuffix} files");

        var result = new List<MmluSubject>(subjects.Count);
        foreach (string subject in subjects)
        {
            var test = ReadQuestions(Path.Combine(testDir, subject + TestSuffix));
            if (limit is int n) test = test.Take(n).ToList();
            IReadOnlyList<MmluQuestion> dev = [];
            if (shots > 0)
            {
                string devPath = Path.Combine(devDir, subject + DevSuffix);
                dev = ReadQuestions(devPath);
                if (dev.Count < shots)
                    throw new UserError($"{devPath}: {dev.Count} examples, --shots {shots} needs {shots}");
            }
            result.Add(new MmluSubject(subject, dev, test));
        }
        return result;
    }

    /// <summary>Reads one MMLU CSV; a row without six fields or with an answer other than A–D names its line.</summary>
    public static List<MmluQuestion> ReadQuestions(string path)
    {
        var questions = new List<MmluQuestion>();
        foreach (var record in Rfc4180Csv.ReadFile(path))
        {
            var f = record.Fields;
            if (f.Count != 6)
                throw new UserError($"{path}:{record.Line}: {f.Count} fields, expected 6 (question, A, B, C, D, answer)");
            int answer = MmluQuestion.Letters.ToList().IndexOf(f[5]);
            if (answer < 0)
                throw new UserError($"{path}:{record.Line}: answer '{f[5]}' is not one of A, B, C, D");
            questions.Add(new MmluQuestion(f[0], [f[1], f[2], f[3], f[4]], answer, $"{path}:{record.Line}"));
        }
        return questions;
    }
}
