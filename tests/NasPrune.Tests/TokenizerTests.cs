using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NasPrune.Common;
using NasPrune.Evaluator.Tokenization;
using Xunit;

namespace NasPrune.Tests;

public sealed class TokenizerTests : IDisposable
{
    private const int VocabSize = 800;
    private static readonly BpeTrainerOptions Options = new(VocabSize: VocabSize);
    private static readonly string WikiText = Fixture("wikitext2-valid-excerpt.txt");
    private static readonly string Brown = Fixture("brown-excerpt.txt");
    private static readonly Lazy<ByteLevelBpeModel> Trained = new(() => ByteLevelBpeTrainer.Train([Brown, WikiText], Options));

    private readonly string _directory = Directory.CreateTempSubdirectory("nasprune-tok-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TrainingIsDeterministic()
    {
        var again = ByteLevelBpeTrainer.Train([Brown, WikiText], Options);
        Assert.Equal(Encoding.UTF8.GetBytes(Trained.Value.ToTokenizerJson()), Encoding.UTF8.GetBytes(again.ToTokenizerJson()));
    }

    [Fact]
    public void VocabularyHasExactSizeAndLayout()
    {
        var model = Trained.Value;
        Assert.Equal(VocabSize, model.Tokens.Count);
        Assert.Equal("<|endoftext|>", model.Tokens[0]);
        Assert.Equal("!", model.Tokens[1 + '!']);
        Assert.Equal("Ġ", model.Tokens[1 + ' ']);
        Assert.Equal("Ċ", model.Tokens[1 + '\n']);

        using var json = JsonDocument.Parse(model.ToTokenizerJson());
        var vocab = json.RootElement.GetProperty("model").GetProperty("vocab");
        Assert.Equal(VocabSize, vocab.EnumerateObject().Count());
        Assert.Equal(0, vocab.GetProperty("<|endoftext|>").GetInt32());
        Assert.True(json.RootElement.GetProperty("model").GetProperty("merges").GetArrayLength() >= VocabSize - 257);
    }

    [Fact]
    public void EncodeDecodeRoundTripsWikiText()
    {
        var tokenizer = SaveAndLoad(Trained.Value);
        foreach (string text in new[] { WikiText, Brown, " Hernán Cortés — 1 @,@ 000 <unk> @-@ \n\n \t x  y\r\n" })
        {
            int[] ids = tokenizer.Encode(text);
            Assert.True(ids.Length < Encoding.UTF8.GetByteCount(text), "merges should shorten the text");
            Assert.Equal(text, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void LoadedTokenizerMatchesReferenceEncoder()
    {
        var tokenizer = SaveAndLoad(Trained.Value);
        var reference = new ReferenceByteLevelBpe(Trained.Value.ToTokenizerJson());
        string[] texts =
        [
            WikiText, Brown,
            "Unseen: naïve café, 東京, emoji 🙂, digits 1234567, it's they'll we'd I'm,   three spaces\n\n\nend",
            " leading space, trailing spaces   ", "\n", "a<|endoftext|>b <|endoftext|>\n",
        ];
        foreach (string text in texts)
            Assert.Equal(reference.Encode(text), tokenizer.Encode(text));
    }

    [Fact]
    public void SpecialTokenIsOneIdAndEndOfText()
    {
        var tokenizer = SaveAndLoad(Trained.Value);
        Assert.Equal([0], tokenizer.Encode("<|endoftext|>"));
        Assert.Equal(0, tokenizer.EndOfTextId);
        Assert.Equal(VocabSize, tokenizer.VocabSize);
        Assert.Equal("x<|endoftext|>y", tokenizer.Decode(tokenizer.Encode("x<|endoftext|>y")));

        using var config = JsonDocument.Parse(Trained.Value.ToTokenizerConfigJson(modelMaxLength: 256));
        Assert.Equal("PreTrainedTokenizerFast", config.RootElement.GetProperty("tokenizer_class").GetString());
        Assert.Equal("<|endoftext|>", config.RootElement.GetProperty("eos_token").GetString());
        Assert.Equal(256, config.RootElement.GetProperty("model_max_length").GetInt32());
    }

    [Fact]
    public void MergesAsArraysLoadTheSame()
    {
        var node = JsonNode.Parse(Trained.Value.ToTokenizerJson())!;
        var merges = node["model"]!["merges"]!.AsArray();
        var pairs = merges.Select(m => m!.GetValue<string>().Split(' ')).ToArray();
        merges.Clear();
        foreach (var pair in pairs)
            merges.Add(new JsonArray(pair[0], pair[1]));
        File.WriteAllText(Path.Combine(_directory, "tokenizer.json"), node.ToJsonString());

        var fromArrays = TokenizerLoader.Load(_directory);
        var fromStrings = SaveAndLoad(Trained.Value);
        Assert.Equal(fromStrings.Encode(WikiText), fromArrays.Encode(WikiText));
    }

    [Fact]
    public void IgnoreMergesTakesWholeWordsFromTheVocabulary()
    {
        // "Ġzyzzyva" is in the vocabulary but no merge chain builds it: only ignore_merges can produce it.
        var node = JsonNode.Parse(Trained.Value.ToTokenizerJson())!;
        node["model"]!["vocab"]!["Ġzyzzyva"] = VocabSize;
        string text = WikiText + " zyzzyva zyzzyvas";

        File.WriteAllText(Path.Combine(_directory, "tokenizer.json"), node.ToJsonString());
        int[] withMerges = TokenizerLoader.Load(_directory).Encode(" zyzzyva");
        Assert.True(withMerges.Length > 1);

        node["model"]!["ignore_merges"] = true;
        File.WriteAllText(Path.Combine(_directory, "tokenizer.json"), node.ToJsonString());
        var tokenizer = TokenizerLoader.Load(_directory);
        Assert.Equal([VocabSize], tokenizer.Encode(" zyzzyva"));
        Assert.Equal(new ReferenceByteLevelBpe(node.ToJsonString()).Encode(text), tokenizer.Encode(text));
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void SentencePieceModelIsUsedWhenTokenizerJsonIsNotByteLevel()
    {
        // LLaMA-2 repositories ship both files; their tokenizer.json is SentencePiece-style BPE (no ByteLevel).
        File.WriteAllText(Path.Combine(_directory, "tokenizer.json"),
            """{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": null}""");
        string[] pieces = ["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab"];
        File.WriteAllBytes(Path.Combine(_directory, "tokenizer.model"), SentencePieceModel(pieces));

        var tokenizer = TokenizerLoader.Load(_directory);
        Assert.Equal([7, 7, 3, 4], tokenizer.Encode("ab ab a")); // ▁ab ▁ab ▁ a: there is no "▁a"
        Assert.Equal("ab ab a", tokenizer.Decode(tokenizer.Encode("ab ab a")));
        Assert.Equal(2, tokenizer.EndOfTextId);
        Assert.Equal(pieces.Length, tokenizer.VocabSize);
    }

    [Fact]
    public void UnreadableSentencePieceModelIsUserError()
    {
        File.WriteAllBytes(Path.Combine(_directory, "tokenizer.model"), [0xff, 0xff, 0xff, 0x01]);
        var error = Assert.Throws<UserError>(() => TokenizerLoader.Load(_directory));
        Assert.Contains("tokenizer.model", error.Message);
    }

    [Fact]
    public void MissingDirectoryIsUserError()
    {
        string missing = Path.Combine(_directory, "nope");
        var error = Assert.Throws<UserError>(() => TokenizerLoader.Load(missing));
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void MalformedJsonIsUserError()
    {
        File.WriteAllText(Path.Combine(_directory, "tokenizer.json"), "{\"model\": {\"type\": \"BPE\",");
        var error = Assert.Throws<UserError>(() => TokenizerLoader.Load(_directory));
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("malformed JSON", error.Message);
    }

    [Fact]
    public void WordPieceIsUserError()
    {
        File.WriteAllText(Path.Combine(_directory, "tokenizer.json"),
            """{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}""");
        var error = Assert.Throws<UserError>(() => TokenizerLoader.Load(_directory));
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("WordPiece", error.Message);
    }

    private TextTokenizer SaveAndLoad(ByteLevelBpeModel model)
    {
        string directory = Path.Combine(_directory, Guid.NewGuid().ToString("N"));
        model.Save(directory, modelMaxLength: 256);
        return TokenizerLoader.Load(directory);
    }

    /// <summary>
    /// A minimal SentencePiece BPE model: later pieces score lower (so "▁ab" is the last merge), ids 0–2 are unk, bos
    /// and eos, no byte fallback, extra spaces removed.
    /// </summary>
    private static byte[] SentencePieceModel(string[] pieces) => SentencePieceProto.Write(
        pieces.Select((text, id) => new SentencePiece(text, -id, id == 0 ? SentencePieceType.Unknown : id < 3 ? SentencePieceType.Control : SentencePieceType.Normal)).ToList(),
        new SentencePieceProto.Normalizer(RemoveExtraWhitespaces: true), byteFallback: false);

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    /// <summary>
    /// GPT-2's encoder.py, restated from tokenizer.json alone: split by the GPT-2 regex, map UTF-8 bytes to the
    /// bytes_to_unicode alphabet, then repeatedly merge every occurrence of the lowest-ranked adjacent pair
    /// (or, with ignore_merges, take a pre-token found whole in the vocabulary as one token).
    /// Written independently of the production code so the two can check each other.
    /// </summary>
    private sealed class ReferenceByteLevelBpe
    {
        private static readonly Regex Split = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");
        private readonly Dictionary<string, int> _vocab = new();
        private readonly Dictionary<(string, string), int> _ranks = new();
        private readonly List<string> _specials = new();
        private readonly char[] _byteToChar = BytesToUnicode();
        private readonly bool _ignoreMerges;

        public ReferenceByteLevelBpe(string tokenizerJson)
        {
            using var json = JsonDocument.Parse(tokenizerJson);
            var model = json.RootElement.GetProperty("model");
            foreach (var entry in model.GetProperty("vocab").EnumerateObject())
                _vocab[entry.Name] = entry.Value.GetInt32();
            foreach (var merge in model.GetProperty("merges").EnumerateArray())
            {
                string[] parts = merge.GetString()!.Split(' ');
                _ranks[(parts[0], parts[1])] = _ranks.Count;
            }
            _ignoreMerges = model.TryGetProperty("ignore_merges", out var ignore) && ignore.GetBoolean();
            foreach (var added in json.RootElement.GetProperty("added_tokens").EnumerateArray())
                _specials.Add(added.GetProperty("content").GetString()!);
        }

        public int[] Encode(string text)
        {
            var ids = new List<int>();
            var specials = new Regex(string.Join("|", _specials.Select(Regex.Escape)));
            int start = 0;
            foreach (Match? special in specials.Matches(text).Append(null))
            {
                int end = special?.Index ?? text.Length;
                foreach (Match piece in Split.Matches(text[start..end]))
                    ids.AddRange(Bpe(piece.Value).Select(symbol => _vocab[symbol]));
                if (special is not null)
                {
                    ids.Add(_vocab[special.Value]);
                    start = special.Index + special.Length;
                }
            }
            return ids.ToArray();
        }

        private List<string> Bpe(string piece)
        {
            var symbols = Encoding.UTF8.GetBytes(piece).Select(b => _byteToChar[b].ToString()).ToList();
            if (_ignoreMerges && _vocab.ContainsKey(string.Concat(symbols)))
                return [string.Concat(symbols)];
            while (symbols.Count > 1)
            {
                var best = Enumerable.Range(0, symbols.Count - 1)
                    .Select(i => (symbols[i], symbols[i + 1]))
                    .Where(_ranks.ContainsKey)
                    .OrderBy(pair => _ranks[pair])
                    .FirstOrDefault();
                if (best == default)
                    break;
                var merged = new List<string>();
                for (int i = 0; i < symbols.Count; i++)
                {
                    if (i + 1 < symbols.Count && (symbols[i], symbols[i + 1]) == best)
                    {
                        merged.Add(symbols[i] + symbols[i + 1]);
                        i++;
                    }
                    else
                    {
                        merged.Add(symbols[i]);
                    }
                }
                symbols = merged;
            }
            return symbols;
        }

        private static char[] BytesToUnicode()
        {
            var bytes = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToList();
            var chars = bytes.ToList();
            for (int b = 0, n = 0; b < 256; b++)
            {
                if (!bytes.Contains(b))
                {
                    bytes.Add(b);
                    chars.Add(256 + n++);
                }
            }
            var table = new char[256];
            for (int i = 0; i < 256; i++)
                table[bytes[i]] = (char)chars[i];
            return table;
        }
    }
}
