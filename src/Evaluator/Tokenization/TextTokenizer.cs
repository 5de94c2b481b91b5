using Microsoft.ML.Tokenizers;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>
/// A loaded tokenizer with what the evaluator needs beside it: the vocabulary size (the model's embedding rows
/// must cover every id) and the end-of-text id used to separate documents. Encoding adds no BOS/EOS tokens;
/// callers add them where the model expects them.
/// </summary>
/// <remarks>
/// Encoding a whole evaluation split in one call is fine: WikiText-2's 1.2 MB test file takes about 0.1 s once
/// warm (about 1 s on the first call, which includes JIT compilation).
/// </remarks>
public sealed class TextTokenizer
{
    private readonly IReadOnlyDictionary<string, int>? _wholePieceIds;

    public TextTokenizer(Tokenizer tokenizer, int vocabSize, int? endOfTextId)
        : this(tokenizer, vocabSize, endOfTextId, wholePieceIds: null)
    {
    }

    /// <param name="wholePieceIds">
    /// For byte-level BPE files with <c>ignore_merges: true</c> (LLaMA-3): a pre-token whose byte-level spelling is
    /// in this vocabulary becomes that single id without running merges, as in the tokenizers library.
    /// Microsoft.ML's BPE has no such switch, so <see cref="Encode"/> applies it around the library.
    /// </param>
    internal TextTokenizer(Tokenizer tokenizer, int vocabSize, int? endOfTextId, IReadOnlyDictionary<string, int>? wholePieceIds)
    {
        Tokenizer = tokenizer;
        VocabSize = vocabSize;
        EndOfTextId = endOfTextId;
        _wholePieceIds = wholePieceIds;
    }

    /// <summary>The underlying Microsoft.ML tokenizer. Prefer <see cref="Encode"/>, which also honours ignore_merges.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>One more than the largest token id, added tokens included.</summary>
    public int VocabSize { get; }

    /// <summary>The end-of-text / end-of-sentence token's id, when the tokenizer has one.</summary>
    public int? EndOfTextId { get; }

    /// <summary>Which file and kind of tokenizer this is, for the protocol every result records.</summary>
    public string Description { get; init; } = "";

    /// <summary>The file it was read from (tokenizer.json or tokenizer.model), for errors that name it.</summary>
    public string SourcePath { get; init; } = "";

    /// <summary>Unicode normalization applied before encoding (NFC for Qwen's tokenizers), or none.</summary>
    public System.Text.NormalizationForm? Normalization { get; init; }

    public int[] Encode(string text)
    {
        if (Normalization is { } form && !text.IsNormalized(form)) text = text.Normalize(form);
        if (_wholePieceIds is null || Tokenizer.PreTokenizer is null)
            return Tokenizer.EncodeToIds(text).ToArray();

        var ids = new List<int>(text.Length / 3);
        foreach (var (offset, length) in Tokenizer.PreTokenizer.PreTokenize(text))
        {
            var piece = text.AsSpan(offset, length);
            if (_wholePieceIds.TryGetValue(ByteLevelAlphabet.Encode(piece), out int id))
                ids.Add(id);
            else
                ids.AddRange(Tokenizer.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }
        return ids.ToArray();
    }

    public string Decode(IEnumerable<int> ids) => Tokenizer.Decode(ids);
}
