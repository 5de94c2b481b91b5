using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// Turns generated ids into text as they come. A byte-level BPE token can hold part of a UTF-8 character, so the
/// text of all ids so far is decoded each time and only its new, complete part is released: a trailing U+FFFD
/// (an unfinished character) waits for the next token.
/// </summary>
public sealed class StreamingDetokenizer(TextTokenizer tokenizer)
{
    readonly List<int> ids = [];
    int released;

    public string Push(int id)
    {
        ids.Add(id);
        string text = tokenizer.Decode(ids);
        if (text.EndsWith('\uFFFD')) return "";
        return Release(text);
    }

    /// <summary>Whatever is left at the end, unfinished characters included.</summary>
    public string Flush() => Release(tokenizer.Decode(ids));

    string Release(string text)
    {
        if (text.Length <= released) return "";
        string fresh = text[released..];
        released = text.Length;
        return fresh;
    }
}
