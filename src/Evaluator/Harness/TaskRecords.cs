using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>One record of a task's data file as a JSON object, and where it starts ("file:line") for errors.</summary>
public sealed record TaskRecord(JsonObject Fields, string Where);

/// <summary>
/// Reads the record layouts the task data comes in: JSON Lines (one object per line), plain text with a fixed
/// number of lines per record (llama.cpp's HellaSwag export), and a labels file with one label per line beside
/// a data file (PIQA's <c>valid-labels.lst</c>). Every record carries its file and line. A file ending in
/// <c>.gz</c> is read through gzip (BLiMP ships compressed to keep the repository small).
/// </summary>
public static class TaskRecords
{
    /// <summary>One JSON object per non-blank line.</summary>
    public static List<TaskRecord> ReadJsonl(string path)
    {
        var records = new List<TaskRecord>();
        var lines = ReadLines(path);
        for (int i = 0; i < lines.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            string where = $"{path}:{i + 1}";
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(lines[i]);
            }
            catch (JsonException e)
            {
                throw new UserError($"{where}: malformed JSON: {e.Message.ReplaceLineEndings(" ")}", e);
            }
            if (node is not JsonObject obj) throw new UserError($"{where}: expected a JSON object per line");
            records.Add(new TaskRecord(obj, where));
        }
        return records;
    }

    /// <summary>Records of <paramref name="fields"/>.Count consecutive lines each, every line one string field.</summary>
    public static List<TaskRecord> ReadLineGroups(string path, IReadOnlyList<string> fields)
    {
        var lines = ReadLines(path);
        if (lines.Count % fields.Count != 0)
            throw new UserError($"{path}: {lines.Count} lines is not a whole number of {fields.Count}-line records ({string.Join(", ", fields)})");
        var records = new List<TaskRecord>(lines.Count / fields.Count);
        for (int start = 0; start < lines.Count; start += fields.Count)
        {
            var obj = new JsonObject();
            for (int f = 0; f < fields.Count; f++) obj[fields[f]] = lines[start + f];
            records.Add(new TaskRecord(obj, $"{path}:{start + 1}"));
        }
        return records;
    }

    /// <summary>Adds line i of <paramref name="labelsPath"/> to record i as field <paramref name="field"/>.</summary>
    public static void AttachLabels(List<TaskRecord> records, string labelsPath, string field)
    {
        var labels = ReadLines(labelsPath).Select(l => l.Trim()).ToList();
        while (labels.Count > 0 && labels[^1].Length == 0) labels.RemoveAt(labels.Count - 1);
        if (labels.Count != records.Count)
            throw new UserError($"{labelsPath}: {labels.Count} labels for {records.Count} records");
        for (int i = 0; i < records.Count; i++)
        {
            if (labels[i].Length == 0) throw new UserError($"{labelsPath}:{i + 1}: empty label");
            records[i].Fields[field] = labels[i];
        }
    }

    /// <summary>The file's lines without their LF / CRLF endings; a final line break adds no empty line.</summary>
    static List<string> ReadLines(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found");
        var lines = ReadText(path).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    static string ReadText(string path)
    {
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return File.ReadAllText(path, Encoding.UTF8);
        try
        {
            using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress), Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (InvalidDataException e)
        {
            throw new UserError($"{path}: not a readable gzip file ({e.Message})", e);
        }
    }
}
