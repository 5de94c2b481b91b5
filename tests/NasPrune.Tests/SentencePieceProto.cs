using System.Text;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Tests;

/// <summary>
/// Writes a SentencePiece <c>ModelProto</c> (sentencepiece_model.proto) field by field, so tests can make
/// <c>tokenizer.model</c> files without the sentencepiece library: pieces with scores and types, a trainer_spec
/// (model type, vocabulary size, byte fallback, unk/bos/eos ids 0/1/2) and an "identity" normalizer_spec.
/// </summary>
static class SentencePieceProto
{
    /// <summary>Normaliser flags; the defaults are LLaMA-2's and Phi-3's (a dummy prefix, every space kept).</summary>
    public record Normalizer(bool AddDummyPrefix = true, bool RemoveExtraWhitespaces = false, bool EscapeWhitespaces = true);

    /// <summary>TrainerSpec.model_type: 1 unigram, 2 BPE.</summary>
    public static byte[] Write(IReadOnlyList<SentencePiece> pieces, Normalizer normalizer, bool byteFallback, int modelType = 2)
    {
        var model = new List<byte>();
        foreach (var p in pieces) model.AddRange(Bytes(1, [.. Text(1, p.Text), .. Float(2, p.Score), .. Int(3, (int)p.Type)]));
        model.AddRange(Bytes(2, [.. Int(3, modelType), .. Int(4, pieces.Count), .. Int(35, byteFallback ? 1 : 0), .. Int(40, 0), .. Int(41, 1), .. Int(42, 2)]));
        model.AddRange(Bytes(3, [.. Text(1, "identity"), .. Int(3, normalizer.AddDummyPrefix ? 1 : 0),
            .. Int(4, normalizer.RemoveExtraWhitespaces ? 1 : 0), .. Int(5, normalizer.EscapeWhitespaces ? 1 : 0)]));
        return [.. model];
    }

    static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        for (; value >= 0x80; value >>= 7) bytes.Add((byte)(value | 0x80));
        bytes.Add((byte)value);
        return [.. bytes];
    }

    static byte[] Int(int field, long value) => [.. Varint((ulong)(field << 3)), .. Varint((ulong)value)];
    static byte[] Float(int field, float value) => [.. Varint((ulong)(field << 3 | 5)), .. BitConverter.GetBytes(value)];
    static byte[] Bytes(int field, byte[] value) => [.. Varint((ulong)(field << 3 | 2)), .. Varint((ulong)value.Length), .. value];
    static byte[] Text(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));
}
