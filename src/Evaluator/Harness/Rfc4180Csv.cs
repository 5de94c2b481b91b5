using System.Text;
using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>One CSV record and the line it starts on (1-based), so errors can point at it.</summary>
public sealed record CsvRecord(int Line, IReadOnlyList<string> Fields);

/// <summary>
/// A strict RFC 4180 reader: fields separated by commas, records by LF or CRLF, fields in double quotes may hold
/// commas, quotes (doubled) and line breaks. MMLU needs this: its questions contain commas and span lines, and one
/// quoted field has CRLF breaks inside it, which must survive as they are. Anything a CSV writer would never
/// produce (an unterminated quote, a quote inside an unquoted field, text after a closing quote) is a
/// <see cref="UserError"/> naming the file and line rather than a silently shifted row.
/// </summary>
public static class Rfc4180Csv
{
    public static IReadOnlyList<CsvRecord> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found");
        return Parse(File.ReadAllText(path, Encoding.UTF8), path);
    }

    /// <param name="source">The file name used in error messages.</param>
    public static IReadOnlyList<CsvRecord> Parse(string text, string source)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, quoteLine = 0;
        var state = State.FieldStart;

        void EndField()
        {
            fields.Add(field.ToString());
            field.Clear();
        }
        void EndRecord()
        {
            EndField();
            // A blank line is no record (Python's csv and pandas skip it too), not a one-field row.
            if (fields.Count > 1 || fields[0].Length > 0) records.Add(new CsvRecord(recordLine, fields.ToArray()));
            fields.Clear();
            state = State.FieldStart;
            recordLine = line + 1;
        }

        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool lineBreak = c == '\n' || (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n');
            switch (state)
            {
                case State.Quoted:
                    if (c == '"') state = State.QuoteInQuoted;
                    else field.Append(c);
                    if (c == '\n') line++;
                    continue;
                case State.QuoteInQuoted:
                    if (c == '"') { field.Append('"'); state = State.Quoted; continue; }
                    if (c == ',') { EndField(); state = State.FieldStart; continue; }
                    if (lineBreak) break;
                    throw new UserError($"{source}:{line}: unexpected '{c}' after the closing quote of a field");
                case State.FieldStart when c == '"':
                    state = State.Quoted;
                    quoteLine = line;
                    continue;
                default: // FieldStart or Unquoted
                    if (c == ',') { EndField(); state = State.FieldStart; continue; }
                    if (lineBreak) break;
                    if (c == '"')
                        throw new UserError($"{source}:{line}: a quote inside an unquoted field (quote the whole field and double the quote)");
                    field.Append(c);
                    state = State.Unquoted;
                    continue;
            }
            // A record ends here (LF or CRLF outside quotes).
            if (c == '\r') i++;
            EndRecord();
            line++;
        }

        if (state is State.Quoted)
            throw new UserError($"{source}:{quoteLine}: quoted field never closed (missing '\"')");
        if (state is not State.FieldStart || fields.Count > 0) EndRecord();
        return records;
    }

    enum State { FieldStart, Unquoted, Quoted, QuoteInQuoted }
}
