using NasPrune.Common;

namespace NasPrune.Evaluator.Tokenization;

/// <summary>One piece of a SentencePiece model: its text (spaces as "▁"), score and type (sentencepiece_model.proto).</summary>
public readonly record struct SentencePiece(string Text, float Score, SentencePieceType Type);

/// <summary>SentencePiece's piece types; the numbers are the proto's, which llama.cpp's token types share.</summary>
public enum SentencePieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

/// <summary>
/// What a SentencePiece <c>tokenizer.model</c> (a serialised <c>ModelProto</c>) says that a GGUF export needs: the
/// pieces with their scores and types, the model type, byte fallback, and the normaliser's whitespace rules.
/// Microsoft.ML.Tokenizers encodes with the file but exposes neither scores nor types, so the protobuf is read here:
/// four messages, varints, fixed32 floats and length-delimited fields, nothing else.
/// </summary>
public sealed record SentencePieceModelFile(
    IReadOnlyList<SentencePiece> Pieces,
    int ModelType,
    bool ByteFallback,
    bool AddDummyPrefix,
    bool RemoveExtraWhitespaces,
    bool EscapeWhitespaces,
    bool HasNormalizationRules,
    int UnknownId,
    int BeginId,
    int EndId)
{
    /// <summary>TrainerSpec.ModelType: 1 unigram, 2 BPE, 3 word, 4 char.</summary>
    public const int Bpe = 2;

    public static SentencePieceModelFile Read(string path)
    {
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new UserError($"{path}: not a readable SentencePiece model: {e.Message}");
        }
    }

    /// <summary>Field numbers and defaults from sentencepiece_model.proto (ModelProto, SentencePiece, TrainerSpec, NormalizerSpec).</summary>
    public static SentencePieceModelFile Parse(ReadOnlySpan<byte> bytes)
    {
        var pieces = new List<SentencePiece>();
        int modelType = 1, unk = 0, bos = 1, eos = 2;
        bool byteFallback = false, dummyPrefix = true, removeExtra = true, escape = true, rules = false;
        var model = new ProtoReader(bytes);
        while (model.Next(out int field, out int wire))
        {
            if (field == 1 && wire == 2)
            {
                var piece = new ProtoReader(model.Bytes());
                string text = ""; float score = 0; int type = 1;
                while (piece.Next(out int f, out int w))
                    switch (f, w)
                    {
                        case (1, 2): text = System.Text.Encoding.UTF8.GetString(piece.Bytes()); break;
                        case (2, 5): score = piece.Float(); break;
                        case (3, 0): type = (int)piece.Varint(); break;
                        default: piece.Skip(w); break;
                    }
                if (type is < 1 or > 6) throw new FormatException($"pieces[{pieces.Count}].type {type} is not a SentencePiece type");
                pieces.Add(new SentencePiece(text, score, (SentencePieceType)type));
            }
            else if (field == 2 && wire == 2)
            {
                var trainer = new ProtoReader(model.Bytes());
                while (trainer.Next(out int f, out int w))
                    switch (f, w)
                    {
                        case (3, 0): modelType = (int)trainer.Varint(); break;
                        case (35, 0): byteFallback = trainer.Varint() != 0; break;
                        case (40, 0): unk = (int)trainer.Varint(); break;
                        case (41, 0): bos = (int)trainer.Varint(); break;
                        case (42, 0): eos = (int)trainer.Varint(); break;
                        default: trainer.Skip(w); break;
                    }
            }
            else if (field == 3 && wire == 2)
            {
                var normalizer = new ProtoReader(model.Bytes());
                while (normalizer.Next(out int f, out int w))
                    switch (f, w)
                    {
                        case (2, 2): rules |= normalizer.Bytes().Length > 0; break; // precompiled_charsmap
                        case (3, 0): dummyPrefix = normalizer.Varint() != 0; break;
                        case (4, 0): removeExtra = normalizer.Varint() != 0; break;
                        case (5, 0): escape = normalizer.Varint() != 0; break;
                        case (6, 2): rules |= normalizer.Bytes().Length > 0; break; // normalization_rule_tsv
                        default: normalizer.Skip(w); break;
                    }
            }
            else model.Skip(wire);
        }
        if (pieces.Count == 0) throw new FormatException("no pieces");
        return new SentencePieceModelFile(pieces, modelType, byteFallback, dummyPrefix, removeExtra, escape, rules, unk, bos, eos);
    }

    /// <summary>A protobuf wire-format cursor over one message.</summary>
    ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        readonly ReadOnlySpan<byte> data = data;
        int position;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (position >= data.Length) return false;
            ulong key = Varint();
            (field, wire) = ((int)(key >> 3), (int)(key & 7));
            if (field == 0) throw new FormatException($"field number 0 at byte {position}");
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (position >= data.Length) throw new FormatException("truncated varint");
                byte b = data[position++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return value;
            }
            throw new FormatException("varint longer than 10 bytes");
        }

        public float Float() => BitConverter.ToSingle(Take(4));

        public ReadOnlySpan<byte> Bytes() => Take(checked((int)Varint()));

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Take(8); break;
                case 2: Bytes(); break;
                case 5: Take(4); break;
                default: throw new FormatException($"wire type {wire} at byte {position}");
            }
        }

        ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || position + count > data.Length) throw new FormatException($"field of {count} bytes runs past the end ({data.Length} bytes)");
            var span = data.Slice(position, count);
            position += count;
            return span;
        }
    }
}
