using System.Text.Json;
using NasPrune.Common;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// The <c>tokenizer.ggml.*</c> metadata of the tokenizer NasPrune uses: a SentencePiece BPE <c>tokenizer.model</c> as
/// llama.cpp's "llama" vocabulary type reads it (see <see cref="AddSentencePiece"/>), or a byte-level BPE
/// <c>tokenizer.json</c> as its "gpt2" vocabulary
/// type reads it: tokens in id order, their types, the merges, and the name of llama.cpp's built-in pre-tokenizer
/// that splits text as our tokenizer.json's pre-tokenizer does. llama.cpp cannot run an arbitrary regex, so a
/// pre-tokenizer it has no name for is refused rather than approximated (the ids would silently differ).
/// </summary>
public static class GgufTokenizer
{
    // llama.cpp's llama_token_type (gguf-py TokenType).
    const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>LLaMA-3's Split regex (tokenizer.json pre_tokenizer.pretokenizers[0].pattern.Regex), llama.cpp's "llama-bpe".</summary>
    const string Llama3Regex =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's Split regex (Qwen2, Qwen2.5, Qwen3): LLaMA-3's with single digits; llama.cpp's "qwen2".</summary>
    const string Qwen2Regex =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Adds the tokenizer's metadata; returns the token texts written, in id order.</summary>
    public static IReadOnlyList<string> AddMetadata(GgufWriter writer, string modelDir, ModelConfig config)
    {
        // The file NasPrune itself tokenizes with: a byte-level BPE tokenizer.json, or else tokenizer.model.
        var tokenizer = Tokenization.TokenizerLoader.Load(modelDir);
        if (Path.GetFileName(tokenizer.SourcePath) == "tokenizer.model")
            return AddSentencePiece(writer, tokenizer.SourcePath, config, tokenizer.EndOfTextId);
        string path = Path.Combine(modelDir, "tokenizer.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE")
            throw new UserError($"{path}: GGUF export supports byte-level BPE tokenizers only (model.type is {model.GetProperty("type")})");
        string pre = PreTokenizerName(root, path);

        var names = new SortedDictionary<int, (string Text, int Type)>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) names[entry.Value.GetInt32()] = (entry.Name, Normal);
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var token in added.EnumerateArray())
            {
                bool special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                names[token.GetProperty("id").GetInt32()] = (token.GetProperty("content").GetString()!, special ? Control : UserDefined);
            }
        int count = names.Keys.Max() + 1;
        if (count > config.VocabSize)
            throw new UserError($"{path}: {count} token ids but the model's vocab_size is {config.VocabSize}");
        // Embedding rows past the tokenizer's ids (vocabularies padded to a multiple) get placeholder tokens, as
        // convert_hf_to_gguf.py writes them: llama.cpp needs one token per row.
        var tokens = new string[config.VocabSize];
        var types = new int[config.VocabSize];
        for (int id = 0; id < config.VocabSize; id++)
            (tokens[id], types[id]) = names.TryGetValue(id, out var t) ? t : ($"[PAD{id}]", Unused);

        var merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : $"{m[0].GetString()} {m[1].GetString()}")
            .ToList();

        writer.Add("tokenizer.ggml.model", GgufValue.Str("gpt2"));
        writer.Add("tokenizer.ggml.pre", GgufValue.Str(pre));
        writer.Add("tokenizer.ggml.tokens", GgufValue.StrArray(tokens));
        writer.Add("tokenizer.ggml.token_type", GgufValue.I32Array(types));
        writer.Add("tokenizer.ggml.merges", GgufValue.StrArray(merges));
        var endOfText = tokenizer.EndOfTextId;
        if ((config.BosTokenId ?? endOfText) is int bos) writer.Add("tokenizer.ggml.bos_token_id", GgufValue.U32((uint)bos));
        if ((config.EosTokenId ?? endOfText) is int eos) writer.Add("tokenizer.ggml.eos_token_id", GgufValue.U32((uint)eos));
        // NasPrune's tokenizer adds nothing to a text; llama.cpp must not either, or the ids (and perplexities) differ.
        writer.Add("tokenizer.ggml.add_bos_token", GgufValue.Bool(false));
        writer.Add("tokenizer.ggml.add_eos_token", GgufValue.Bool(false));
        return tokens;
    }

    /// <summary>
    /// A SentencePiece BPE <c>tokenizer.model</c> (LLaMA-2, Phi-3) as llama.cpp's "llama" vocabulary reads it: pieces,
    /// scores (its merges pick the adjacent pair whose joined piece scores highest, as SentencePiece BPE does) and
    /// types (byte pieces "&lt;0x0A&gt;" are its byte fallback). Whatever llama.cpp's tokenizer would apply differently
    /// from the file's own rules is refused, so the ids stay NasPrune's.
    /// </summary>
    static IReadOnlyList<string> AddSentencePiece(GgufWriter writer, string path, ModelConfig config, int? endOfText)
    {
        var spm = Tokenization.SentencePieceModelFile.Read(path);
        if (spm.ModelType != Tokenization.SentencePieceModelFile.Bpe)
            throw new UserError($"{path}: trainer_spec.model_type {spm.ModelType} is not BPE (2); llama.cpp's SentencePiece tokenizer merges as BPE does");
        if (spm.HasNormalizationRules)
            throw new UserError($"{path}: normalizer_spec has normalisation rules (precompiled_charsmap), which llama.cpp does not apply");
        if (spm.RemoveExtraWhitespaces)
            throw new UserError($"{path}: normalizer_spec.remove_extra_whitespaces is set; llama.cpp's SentencePiece tokenizer keeps every space");
        if (!spm.EscapeWhitespaces)
            throw new UserError($"{path}: normalizer_spec.escape_whitespaces is off; llama.cpp always writes spaces as \u2581");
        if (spm.Pieces.Count > config.VocabSize)
            throw new UserError($"{path}: {spm.Pieces.Count} pieces but the model's vocab_size is {config.VocabSize}");
        // llama.cpp looks up the newline token when it loads the vocabulary and fails without one.
        if (!spm.Pieces.Any(p => p.Text is "<0x0A>" or "\n"))
            throw new UserError($"{path}: no piece for a newline (\"<0x0A>\" or \"\\n\"), which llama.cpp needs to load the vocabulary");

        var tokens = new string[config.VocabSize];
        var scores = new float[config.VocabSize];
        var types = new int[config.VocabSize];
        for (int id = 0; id < config.VocabSize; id++)
            (tokens[id], scores[id], types[id]) = id < spm.Pieces.Count
                ? (spm.Pieces[id].Text, spm.Pieces[id].Score, (int)spm.Pieces[id].Type)
                : ($"[PAD{id}]", 0f, Unused);

        writer.Add("tokenizer.ggml.model", GgufValue.Str("llama"));
        writer.Add("tokenizer.ggml.tokens", GgufValue.StrArray(tokens));
        writer.Add("tokenizer.ggml.scores", GgufValue.F32Array(scores));
        writer.Add("tokenizer.ggml.token_type", GgufValue.I32Array(types));
        writer.Add("tokenizer.ggml.add_space_prefix", GgufValue.Bool(spm.AddDummyPrefix));
        if (spm.UnknownId >= 0) writer.Add("tokenizer.ggml.unknown_token_id", GgufValue.U32((uint)spm.UnknownId));
        if ((config.BosTokenId ?? (spm.BeginId >= 0 ? spm.BeginId : null)) is int bos) writer.Add("tokenizer.ggml.bos_token_id", GgufValue.U32((uint)bos));
        if ((config.EosTokenId ?? endOfText) is int eos) writer.Add("tokenizer.ggml.eos_token_id", GgufValue.U32((uint)eos));
        writer.Add("tokenizer.ggml.add_bos_token", GgufValue.Bool(false));
        writer.Add("tokenizer.ggml.add_eos_token", GgufValue.Bool(false));
        return tokens;
    }

    /// <summary>llama.cpp's name for the pre-tokenizer (its <c>tokenizer.ggml.pre</c>), from tokenizer.json's.</summary>
    static string PreTokenizerName(JsonElement root, string path)
    {
        // NFC (Qwen's tokenizers) is exported as convert_hf_to_gguf.py exports it: llama.cpp does not normalize, so
        // its ids equal ours on NFC text (the shipped evaluation text is; QwenTokenizerTests checks) and may
        // differ on decomposed input.
        bool nfc = Tokenization.TokenizerLoader.Normalization(root, path) is not null;
        var pre = root.GetProperty("pre_tokenizer");
        string type = pre.GetProperty("type").GetString() ?? "";
        if (type == "ByteLevel" && Flag(pre, "use_regex", true) && !Flag(pre, "add_prefix_space", false) && !nfc)
            return "gpt-2";
        if (type == "Sequence" && pre.GetProperty("pretokenizers") is { ValueKind: JsonValueKind.Array } steps && steps.GetArrayLength() == 2
            && steps[0].TryGetProperty("pattern", out var pattern) && pattern.TryGetProperty("Regex", out var regex)
            && steps[1].GetProperty("type").GetString() == "ByteLevel" && !Flag(steps[1], "use_regex", true))
        {
            if (regex.GetString() == Llama3Regex && !nfc) return "llama-bpe";
            if (regex.GetString() == Qwen2Regex && nfc) return "qwen2";
        }
        throw new UserError($"{path}: pre_tokenizer{(nfc ? " with the NFC normalizer" : "")} has no llama.cpp equivalent " +
            "(exported: GPT-2's ByteLevel, LLaMA-3's split, and Qwen2's split with NFC)");
    }

    static bool Flag(JsonElement e, string name, bool otherwise) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : otherwise;
}
