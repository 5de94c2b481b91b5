using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>
/// A trained byte-level BPE tokenizer, written out as the Hugging Face files <c>tokenizer.json</c> and
/// <c>tokenizer_config.json</c> so that <see cref="TokenizerLoader"/>, the Python <c>tokenizers</c> library and
/// <c>transformers</c>' <c>PreTrainedTokenizerFast</c> all load it.
/// </summary>
/// <param name="SpecialTokens">Special tokens; they hold ids 0 .. n-1.</param>
/// <param name="Tokens">The vocabulary in id order: special tokens, the 256 byte symbols, then merged tokens.</param>
/// <param name="Merges">Merges in the order learned (rank order), as byte-level strings.</param>
public sealed record ByteLevelBpeModel(
    IReadOnlyList<string> SpecialTokens,
    IReadOnlyList<string> Tokens,
    IReadOnlyList<(string Left, string Right)> Merges)
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        // Keep 'Ġ', 'Ċ' and other non-ASCII token text readable instead of \uXXXX escapes; still valid JSON.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The Hugging Face <c>tokenizer.json</c> text.</summary>
    public string ToTokenizerJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            for (int id = 0; id < SpecialTokens.Count; id++)
            {
                json.WriteStartObject();
                json.WriteNumber("id", id);
                json.WriteString("content", SpecialTokens[id]);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNull("normalizer");
            WriteByteLevel(json, "pre_tokenizer");
            WriteByteLevel(json, "post_processor");
            WriteByteLevel(json, "decoder");
            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteNull("continuing_subword_prefix");
            json.WriteNull("end_of_word_suffix");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", false);
            json.WriteStartObject("vocab");
            for (int id = 0; id < Tokens.Count; id++)
                json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
            // "left right" strings: the format every reader accepts. Byte-level tokens never contain a real
            // space (it is 'Ġ'), so the separator is unambiguous.
            json.WriteStartArray("merges");
            foreach (var (left, right) in Merges)
                json.WriteStringValue($"{left} {right}");
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// The Hugging Face <c>tokenizer_config.json</c> text: a fast tokenizer whose BOS, EOS and UNK are the first
    /// special token (GPT-2's convention for "&lt;|endoftext|&gt;").
    /// </summary>
    public string ToTokenizerConfigJson(int modelMaxLength)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            if (SpecialTokens.Count > 0)
            {
                json.WriteString("bos_token", SpecialTokens[0]);
                json.WriteString("eos_token", SpecialTokens[0]);
                json.WriteString("unk_token", SpecialTokens[0]);
            }
            json.WriteNumber("model_max_length", modelMaxLength);
            // transformers would otherwise rewrite " ." to "." when decoding, breaking round trips.
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes <c>tokenizer.json</c> and <c>tokenizer_config.json</c> into <paramref name="directory"/>.</summary>
    public void Save(string directory, int modelMaxLength)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), ToTokenizerJson());
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), ToTokenizerConfigJson(modelMaxLength));
    }

    private static void WriteByteLevel(Utf8JsonWriter json, string property)
    {
        json.WriteStartObject(property);
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", true);
        json.WriteEndObject();
    }
}
