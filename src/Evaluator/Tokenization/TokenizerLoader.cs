using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using NasPrune.Common;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>
/// Loads the tokenizer of a Hugging Face model directory: a byte-level BPE <c>tokenizer.json</c> (GPT-2, LLaMA-3,
/// NasPrune's own) or a SentencePiece <c>tokenizer.model</c> (LLaMA-1/2). A <c>tokenizer.json</c> that is not
/// byte-level BPE (LLaMA-2's SentencePiece-style BPE, for one) defers to a <c>tokenizer.model</c> beside it.
/// </summary>
public static class TokenizerLoader
{
    private const string JsonFileName = "tokenizer.json";
    private const string SentencePieceFileName = "tokenizer.model";
    private const string ConfigFileName = "tokenizer_config.json";

    /// <summary>End-of-text tokens to fall back on when tokenizer_config.json names none.</summary>
    private static readonly string[] WellKnownEndOfText = ["<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"];

    /// <summary>
    /// The tokenizer of a model directory. When a config.json is beside it, every id must be below its vocab_size:
    /// an id past the embedding table would index out of it (or read another token's row on some devices).
    /// </summary>
    public static TextTokenizer Load(string modelDirectory)
    {
        var tokenizer = LoadTokenizer(modelDirectory);
        string configPath = Path.Combine(modelDirectory, "config.json");
        if (File.Exists(configPath))
        {
            int vocabSize = ModelConfig.Load(configPath).VocabSize;
            if (tokenizer.VocabSize > vocabSize)
                throw new UserError($"{tokenizer.SourcePath}: token ids reach {tokenizer.VocabSize - 1}, " +
                                    $"past config.json's vocab_size {vocabSize}");
        }
        return tokenizer;
    }

    private static TextTokenizer LoadTokenizer(string modelDirectory)
    {
        string jsonPath = Path.Combine(modelDirectory, JsonFileName);
        string sentencePiecePath = Path.Combine(modelDirectory, SentencePieceFileName);

        if (File.Exists(jsonPath))
        {
            using JsonDocument document = ParseJson(jsonPath);
            JsonElement root = document.RootElement;
            JsonElement model = Field(root, "model", JsonValueKind.Object, jsonPath);
            string type = Field(model, "type", JsonValueKind.String, jsonPath, "model.type").GetString()!;
            bool byteLevel = root.TryGetProperty("pre_tokenizer", out var pre) && MentionsByteLevel(pre);

            if (type == "BPE" && byteLevel)
                return LoadByteLevelBpe(root, model, jsonPath, modelDirectory);
            if (File.Exists(sentencePiecePath))
                return LoadSentencePiece(sentencePiecePath);
            throw new UserError(type == "BPE"
                ? $"{jsonPath}: model.type \"BPE\" without a ByteLevel pre_tokenizer is SentencePiece-style and needs a {SentencePieceFileName} beside it"
                : $"{jsonPath}: model.type \"{type}\" is not supported (byte-level BPE only) and there is no {SentencePieceFileName} beside it");
        }

        if (File.Exists(sentencePiecePath))
            return LoadSentencePiece(sentencePiecePath);

        string why = Directory.Exists(modelDirectory) ? "" : " (the directory does not exist)";
        throw new UserError($"no {JsonFileName} or {SentencePieceFileName} in {modelDirectory}{why}");
    }

    private static TextTokenizer LoadByteLevelBpe(JsonElement root, JsonElement model, string path, string directory)
    {
        foreach (string field in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            // Qwen's files write "" for both, which means none.
            if (model.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null
                && !(value.ValueKind == JsonValueKind.String && value.GetString() == ""))
                throw new UserError($"{path}: model.{field} is not supported for byte-level BPE");
        }
        var normalization = Normalization(root, path);

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in Field(model, "vocab", JsonValueKind.Object, path, "model.vocab").EnumerateObject())
        {
            if (!entry.Value.TryGetInt32(out int id) || id < 0)
                throw new UserError($"{path}: model.vocab[\"{entry.Name}\"] is not a non-negative integer id");
            vocab[entry.Name] = id;
        }

        var merges = new List<string>();
        foreach (var merge in Field(model, "merges", JsonValueKind.Array, path, "model.merges").EnumerateArray())
            merges.Add(ReadMerge(merge, path, merges.Count));

        var addedTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in added.EnumerateArray())
            {
                string field = $"added_tokens[{addedTokens.Count}]";
                string content = Field(token, "content", JsonValueKind.String, path, field + ".content").GetString()!;
                if (!Field(token, "id", JsonValueKind.Number, path, field + ".id").TryGetInt32(out int id))
                    throw new UserError($"{path}: {field}.id is not an integer");
                addedTokens[content] = id;
            }
        }

        Regex regex = PreTokenizerRegex(root.GetProperty("pre_tokenizer"), path);
        BpeTokenizer tokenizer;
        try
        {
            tokenizer = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                // Added tokens are cut out before the regex runs, as in the tokenizers library, so that
                // "<|endoftext|>" in a text is one token rather than "<|", "endoftext", "|>".
                PreTokenizer = new RegexPreTokenizer(regex, addedTokens.Count > 0 ? addedTokens : null),
                SpecialTokens = addedTokens.Count > 0 ? addedTokens : null,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // Microsoft.ML's way of saying a merge names a token missing from the vocabulary, or two tokens share an id.
            throw new UserError($"{path}: model.vocab and model.merges do not fit together: {OneLine(e.Message)}", e);
        }

        int vocabSize = Math.Max(vocab.Values.DefaultIfEmpty(-1).Max(), addedTokens.Values.DefaultIfEmpty(-1).Max()) + 1;
        int? endOfText = EndOfTextId(directory, name => addedTokens.TryGetValue(name, out int id) || vocab.TryGetValue(name, out id) ? id : null);
        bool ignoreMerges = model.TryGetProperty("ignore_merges", out var ignore) && ignore.ValueKind == JsonValueKind.True;
        return new TextTokenizer(tokenizer, vocabSize, endOfText, ignoreMerges ? vocab : null)
        {
            Description = $"tokenizer.json (byte-level BPE{(normalization is null ? "" : ", NFC")}, {vocabSize} ids)",
            SourcePath = path,
            Normalization = normalization,
        };
    }

    /// <summary>
    /// The Unicode normalization a byte-level BPE tokenizer.json applies before splitting: none (GPT-2, LLaMA-3,
    /// NasPrune's own) or NFC (Qwen2, Qwen2.5, Qwen3). Any other normalizer would change the text in ways this loader
    /// does not reproduce, so it is refused.
    /// </summary>
    public static System.Text.NormalizationForm? Normalization(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out var normalizer) || normalizer.ValueKind == JsonValueKind.Null) return null;
        string? type = normalizer.ValueKind == JsonValueKind.Object && normalizer.TryGetProperty("type", out var t) ? t.GetString() : null;
        return type == "NFC" ? System.Text.NormalizationForm.FormC
            : throw new UserError($"{path}: normalizer {type ?? normalizer.ValueKind.ToString()} is not supported for byte-level BPE (null or NFC)");
    }

    private static TextTokenizer LoadSentencePiece(string path)
    {
        LlamaTokenizer tokenizer;
        try
        {
            using var stream = File.OpenRead(path);
            tokenizer = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not UserError)
        {
            throw new UserError($"{path}: not a readable SentencePiece BPE model: {OneLine(e.Message)}", e);
        }
        int vocabSize = tokenizer.Vocabulary.Values.DefaultIfEmpty(-1).Max() + 1;
        return new TextTokenizer(tokenizer, vocabSize, tokenizer.EndOfSentenceId >= 0 ? tokenizer.EndOfSentenceId : null)
        {
            Description = $"tokenizer.model (SentencePiece, {vocabSize} ids)",
            SourcePath = path,
        };
    }

    /// <summary>Merges come as "left right" strings (the classic format) or as ["left", "right"] arrays (newer files).</summary>
    private static string ReadMerge(JsonElement merge, string path, int index)
    {
        if (merge.ValueKind == JsonValueKind.String)
            return merge.GetString()!;
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
            && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
        {
            string left = merge[0].GetString()!, right = merge[1].GetString()!;
            // Byte-level tokens spell a space as 'Ġ', so a literal space would make "left right" ambiguous.
            if (left.Contains(' ') || right.Contains(' '))
                throw new UserError($"{path}: model.merges[{index}] contains a space, which byte-level BPE never has");
            return $"{left} {right}";
        }
        throw new UserError($"{path}: model.merges[{index}] is neither a \"left right\" string nor a [left, right] array");
    }

    private static bool MentionsByteLevel(JsonElement preTokenizer) => preTokenizer.ValueKind switch
    {
        JsonValueKind.Object => preTokenizer.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            && (type.GetString() == "ByteLevel"
                || (type.GetString() == "Sequence" && preTokenizer.TryGetProperty("pretokenizers", out var items)
                    && items.ValueKind == JsonValueKind.Array && items.EnumerateArray().Any(MentionsByteLevel))),
        _ => false,
    };

    /// <summary>
    /// The regex that splits text before BPE. Two shapes occur in practice: a lone ByteLevel step with
    /// use_regex (GPT-2 and NasPrune's own files: the GPT-2 pattern), or a Sequence of a Split by a regex followed
    /// by ByteLevel without use_regex (LLaMA-3: the Split's own pattern). Others would split differently from the
    /// tokenizers library, so they are refused rather than approximated.
    /// </summary>
    private static Regex PreTokenizerRegex(JsonElement preTokenizer, string path)
    {
        JsonElement[] steps = preTokenizer.GetProperty("type").GetString() == "Sequence"
            ? preTokenizer.GetProperty("pretokenizers").EnumerateArray().ToArray()
            : [preTokenizer];
        string? Text(JsonElement element, string name)
            => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        string Type(JsonElement step) => Text(step, "type") ?? "";
        bool Flag(JsonElement step, string name, bool otherwise)
            => step.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : otherwise;

        JsonElement last = steps[^1];
        if (Type(last) == "ByteLevel" && Flag(last, "add_prefix_space", false))
            throw new UserError($"{path}: pre_tokenizer ByteLevel with add_prefix_space true is not supported");

        if (steps.Length == 1 && Type(last) == "ByteLevel" && Flag(last, "use_regex", true))
            return Gpt2PreTokenizer.Regex;

        JsonElement first = steps[0];
        if (steps.Length == 2 && Type(first) == "Split" && Type(last) == "ByteLevel" && !Flag(last, "use_regex", true)
            && first.TryGetProperty("pattern", out var pattern) && Text(pattern, "Regex") is string source
            && Text(first, "behavior") == "Isolated" && !Flag(first, "invert", false))
        {
            try
            {
                return new Regex(source, RegexOptions.Compiled);
            }
            catch (ArgumentException e)
            {
                throw new UserError($"{path}: pre_tokenizer Split pattern is not a valid .NET regex: {OneLine(e.Message)}", e);
            }
        }

        string shape = string.Join(", ", steps.Select(Type));
        throw new UserError($"{path}: pre_tokenizer [{shape}] is not supported (expected ByteLevel with use_regex, or Split(Regex, Isolated) then ByteLevel)");
    }

    /// <summary>
    /// The eos_token of tokenizer_config.json (a string or an {"content": ...} object) when present and known,
    /// otherwise the first well-known end-of-text token the vocabulary has.
    /// </summary>
    private static int? EndOfTextId(string directory, Func<string, int?> idOf)
    {
        string configPath = Path.Combine(directory, ConfigFileName);
        if (File.Exists(configPath))
        {
            using JsonDocument config = ParseJson(configPath);
            if (config.RootElement.ValueKind == JsonValueKind.Object && config.RootElement.TryGetProperty("eos_token", out var eos))
            {
                string? name = eos.ValueKind switch
                {
                    JsonValueKind.String => eos.GetString(),
                    JsonValueKind.Object when eos.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
                    _ => null,
                };
                if (name is not null && idOf(name) is int id)
                    return id;
            }
        }
        return WellKnownEndOfText.Select(idOf).FirstOrDefault(id => id is not null);
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new UserError($"{path}: malformed JSON: {OneLine(e.Message)}", e);
        }
    }

    private static JsonElement Field(JsonElement parent, string name, JsonValueKind kind, string path, string? fieldPath = null)
    {
        if (parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == kind)
            return value;
        throw new UserError($"{path}: field {fieldPath ?? name} is missing or not {Describe(kind)}");
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        _ => kind.ToString(),
    };

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
