using System.Text;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>
/// GPT-2's reversible map from the 256 byte values to printable Unicode characters (<c>bytes_to_unicode</c> in
/// OpenAI's encoder.py and in Hugging Face <c>tokenizers</c>). Byte-level BPE works on bytes, but vocabularies and
/// merge lists are stored as JSON strings; this table lets every byte appear as one visible character, so a space
/// becomes 'Ġ' (U+0120) and a newline 'Ċ' (U+010A). Printable Latin-1 bytes map to themselves; the other 68 bytes
/// map, in byte order, to U+0100 onwards.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildTable();

    /// <summary>The character standing for byte <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte-level string of a run of UTF-8 bytes: one character per byte.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes, static (chars, source) =>
        {
            for (int i = 0; i < source.Length; i++)
                chars[i] = ByteToCharTable[source[i]];
        });
    }

    /// <summary>The byte-level string of a text's UTF-8 encoding.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text)];
        Encoding.UTF8.GetBytes(text, bytes);
        return Encode(bytes);
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= '¡' && b <= '¬') || (b >= '®' && b <= 'ÿ');
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
