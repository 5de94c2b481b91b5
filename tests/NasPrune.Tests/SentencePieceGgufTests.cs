using System.Text;
using System.Text.Json;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using Normalizer = NasPrune.Tests.SentencePieceProto.Normalizer;

namespace NasPrune.Tests;

/// <summary>
/// SentencePiece BPE tokenizers (LLaMA-2's and Phi-3's <c>tokenizer.model</c>) exported to GGUF as llama.cpp's "llama"
/// vocabulary. No such file can be downloaded here, so the tests write one in SentencePiece's own protobuf format:
/// the embedded model's 4096-id vocabulary turned into SentencePiece pieces (spaces as "▁", scores by rank, the 256
/// byte-fallback pieces), and check that llama.cpp, loading the export, tokenizes as NasPrune does.
/// </summary>
public sealed class SentencePieceGgufTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    static readonly string RealModel = GgufTestWindows.RealModelDir;

    readonly string dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"nasprune-spm-{Guid.NewGuid():N}")).FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>
    /// Pieces: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 bytes, then the embedded vocabulary's tokens in id order
    /// whose bytes are whole UTF-8 text, until 4096 pieces (the model's vocab_size). Scores fall with the id.
    /// </summary>
    static List<SentencePiece> Pieces()
    {
        var pieces = new List<SentencePiece>
        {
            new("<unk>", 0, SentencePieceType.Unknown), new("<s>", 0, SentencePieceType.Control), new("</s>", 0, SentencePieceType.Control),
        };
        for (int b = 0; b < 256; b++) pieces.Add(new($"<0x{b:X2}>", 0, SentencePieceType.Byte));
        var seen = pieces.Select(p => p.Text).ToHashSet();
        var charToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteLevelAlphabet.ByteToChar((byte)b), b => (byte)b);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(RealModel, "tokenizer.json")));
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var entry in json.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().OrderBy(e => e.Value.GetInt32()))
        {
            if (pieces.Count == 4096) break;
            if (!entry.Name.All(charToByte.ContainsKey)) continue;
            string text;
            try { text = strict.GetString(entry.Name.Select(c => charToByte[c]).ToArray()); }
            catch (DecoderFallbackException) { continue; } // a piece of a multi-byte character: bytes cover it
            text = text.Replace(' ', '\u2581');
            if (text.Length > 0 && seen.Add(text)) pieces.Add(new(text, -pieces.Count, SentencePieceType.Normal));
        }
        return pieces;
    }

    static byte[] ModelProto(IReadOnlyList<SentencePiece> pieces, Normalizer normalizer, int modelType = 2) =>
        SentencePieceProto.Write(pieces, normalizer, byteFallback: true, modelType);

    void WriteTokenizer(Normalizer normalizer, int modelType = 2)
    {
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.model"), ModelProto(Pieces(), normalizer, modelType));
        File.Copy(Path.Combine(RealModel, "config.json"), Path.Combine(dir, "config.json"), overwrite: true);
    }

    string Export()
    {
        using var model = HfCheckpoint.LoadModel(RealModel);
        string path = Path.Combine(dir, "model.gguf");
        GgufExport.Write(model, dir, path, GgufTensorType.F32, "test");
        return path;
    }

    [Fact]
    public void TheProtobufReaderReturnsThePiecesScoresTypesAndFlagsWritten()
    {
        var pieces = Pieces();
        var file = SentencePieceModelFile.Parse(ModelProto(pieces, new Normalizer(AddDummyPrefix: false, RemoveExtraWhitespaces: true)));
        Assert.Equal(pieces, file.Pieces);
        Assert.Equal(4096, file.Pieces.Count);
        Assert.Equal(SentencePieceType.Byte, file.Pieces[3 + 0x0A].Type);
        Assert.Equal("<0x0A>", file.Pieces[3 + 0x0A].Text);
        Assert.Equal((2, true, false, true, true, false, 0, 1, 2),
            (file.ModelType, file.ByteFallback, file.AddDummyPrefix, file.RemoveExtraWhitespaces, file.EscapeWhitespaces,
             file.HasNormalizationRules, file.UnknownId, file.BeginId, file.EndId));
        // Absent fields take the proto's defaults: unigram, a dummy prefix, extra spaces removed, no byte fallback.
        var bare = SentencePieceModelFile.Parse([0x0a, 0x05, 0x0a, 0x01, (byte)'a', 0x18, 0x01]);
        Assert.Equal((1, false, true, true, "a"), (bare.ModelType, bare.ByteFallback, bare.AddDummyPrefix, bare.RemoveExtraWhitespaces, bare.Pieces[0].Text));
    }

    [Fact]
    public void TruncatedProtobufIsOneLineNamingTheFile()
    {
        string path = Path.Combine(dir, "tokenizer.model");
        File.WriteAllBytes(path, ModelProto(Pieces(), new Normalizer())[..1000]);
        var e = Assert.Throws<UserError>(() => SentencePieceModelFile.Read(path));
        Assert.StartsWith($"{path}: not a readable SentencePiece model: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void LlamaCppTokenizesTheExportAsNasPruneDoes()
    {
        WriteTokenizer(new Normalizer());
        var ours = TokenizerLoader.Load(dir);
        Assert.Contains("SentencePiece", ours.Description);
        using var cpp = new LlamaCppModel(Export(), 512);
        // WikiText-2 text, then what byte fallback, the dummy prefix and repeated spaces and newlines decide.
        string[] texts =
        [
            GgufTestWindows.Excerpt,
            "naïve café — 東京 😀 ok",
            "  two  spaces,\n\nthen   three\tand a tab",
            "The 1995 season , 123 @,@ 456 people .",
        ];
        foreach (string text in texts)
        {
            var ids = ours.Encode(text);
            Assert.Equal(ids, cpp.Tokenize(text));
            Assert.Equal(text, ours.Decode(ids));
        }
        // Characters outside the pieces went to byte pieces, so that path was exercised.
        Assert.Contains(ours.Encode("東京"), id => id is >= 3 and < 259);
        output.WriteLine($"{ours.Encode(GgufTestWindows.Excerpt).Length} SentencePiece ids on the excerpt");
    }

    [Fact]
    public void TheExportWithASentencePieceVocabularyComputesNasPrunesLogits()
    {
        WriteTokenizer(new Normalizer());
        var ids = TokenizerLoader.Load(dir).Encode(GgufTestWindows.Excerpt);
        int[][] windows = [ids[..GgufTestWindows.Length], ids[GgufTestWindows.Length..(2 * GgufTestWindows.Length)]];
        using var model = HfCheckpoint.LoadModel(RealModel);
        model.eval();
        LlamaCppAgreement.AssertAgrees(model, Export(), windows, output, 1e-3, 1e-4);
    }

    [Theory]
    [InlineData(true, true, 2, "normalizer_spec.remove_extra_whitespaces is set")]
    [InlineData(false, false, 2, "normalizer_spec.escape_whitespaces is off")]
    [InlineData(false, true, 1, "not a readable SentencePiece BPE model: The model type is not Bpe.")] // NasPrune's own loader refuses unigram first
    public void WhatLlamaCppWouldTokenizeDifferentlyIsRefusedWithoutAFile(bool removeExtra, bool escape, int modelType, string expected)
    {
        WriteTokenizer(new Normalizer(RemoveExtraWhitespaces: removeExtra, EscapeWhitespaces: escape), modelType);
        using var model = HfCheckpoint.LoadModel(RealModel);
        string path = Path.Combine(dir, "refused.gguf");
        var e = Assert.Throws<UserError>(() => GgufExport.Write(model, dir, path, GgufTensorType.F32, "test"));
        Assert.StartsWith($"{Path.Combine(dir, "tokenizer.model")}: {expected}", e.Message);
        Assert.False(File.Exists(path));
    }
}
