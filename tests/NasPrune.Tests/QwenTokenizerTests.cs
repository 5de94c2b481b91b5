using System.Text;
using System.Text.Json.Nodes;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Export;
using NasPrune.Evaluator.Tokenization;
using Xunit;

namespace NasPrune.Tests;

/// <summary>
/// Qwen2/Qwen2.5/Qwen3 tokenizer.json files: an NFC normalizer, a Split by Qwen2's regex (digits one at a time), then
/// ByteLevel without its own regex, and "" for the subword prefix and suffix. These tests give the embedded model's
/// vocabulary that form, so every rule is exercised without Qwen's 151,643-token file.
/// </summary>
public sealed class QwenTokenizerTests : IDisposable
{
    static readonly string RealModel = GgufTestWindows.RealModelDir;

    const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    readonly string dir = Path.Combine(Path.GetTempPath(), $"nasprune-qwen-tokenizer-{Guid.NewGuid():N}");

    public QwenTokenizerTests()
    {
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(RealModel, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        WriteQwenForm(node => { });
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>The embedded tokenizer in Qwen2's form, then <paramref name="edit"/> applied.</summary>
    void WriteQwenForm(Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(File.ReadAllText(Path.Combine(RealModel, "tokenizer.json")))!;
        node["normalizer"] = new JsonObject { ["type"] = "NFC" };
        node["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Qwen2Regex }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
        };
        node["model"]!["continuing_subword_prefix"] = "";
        node["model"]!["end_of_word_suffix"] = "";
        edit(node);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), node.ToJsonString());
    }

    [Fact]
    public void NfcIsAppliedBeforeSplittingAndDigitsSplitOneByOne()
    {
        var qwen = TokenizerLoader.Load(dir);
        var gpt2 = TokenizerLoader.Load(RealModel);
        Assert.Contains("NFC", qwen.Description);
        // "café" with a combining acute accent is the precomposed "café" after NFC; without NFC the ids differ.
        string decomposed = "cafe\u0301 au lait", composed = "caf\u00e9 au lait";
        Assert.Equal(qwen.Encode(composed), qwen.Encode(decomposed));
        Assert.NotEqual(gpt2.Encode(composed), gpt2.Encode(decomposed));
        // Qwen2's split takes digits one at a time (and the space before them alone); GPT-2's takes " 12345" whole.
        var digits = qwen.Encode("In 12345 years");
        string[] pieces = ["In", " ", "1", "2", "3", "4", "5", " years"];
        Assert.Equal(pieces.SelectMany(qwen.Encode), digits);
        Assert.NotEqual(gpt2.Encode("In 12345 years"), digits);
        Assert.Equal("In 12345 years", qwen.Decode(digits));
    }

    [Fact]
    public void OtherNormalizersAreRefusedWithOneLine()
    {
        WriteQwenForm(node => node["normalizer"] = new JsonObject { ["type"] = "Lowercase" });
        var e = Assert.Throws<UserError>(() => TokenizerLoader.Load(dir));
        Assert.Equal($"{Path.Combine(dir, "tokenizer.json")}: normalizer Lowercase is not supported for byte-level BPE (null or NFC)", e.Message);
    }

    [Fact]
    public void GgufExportNamesQwen2sPreTokenizerAndLlamaCppTokenizesAsNasPrune()
    {
        using var model = HfCheckpoint.LoadModel(RealModel);
        string path = Path.Combine(Path.GetTempPath(), $"nasprune-qwen-tokenizer-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufExport.Write(model, dir, path, GgufTensorType.F32, "test");
            // tokenizer.ggml.pre = "qwen2", as GGUF stores a string pair: key, value type 8 (string), u64 length, bytes.
            byte[] pair = [.. "tokenizer.ggml.pre"u8, 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, .. "qwen2"u8];
            Assert.True(File.ReadAllBytes(path).AsSpan().IndexOf(pair) >= 0, "tokenizer.ggml.pre is not qwen2");
            using var cpp = new LlamaCppModel(path, GgufTestWindows.Length);
            // The shipped text is NFC, so llama.cpp (which does not normalize) and NasPrune agree on it; the numbers
            // check that llama.cpp splits digits as Qwen2's regex does (LLaMA-3's "llama-bpe" would group them by 3).
            string text = GgufTestWindows.Excerpt + " In 1995 , 123456 people paid $ 7 @,@ 890 .";
            Assert.True(text.IsNormalized(NormalizationForm.FormC));
            var ours = TokenizerLoader.Load(dir).Encode(text);
            Assert.Equal(ours, cpp.Tokenize(text));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void NfcWithAnotherSplitIsRefusedByGgufExport()
    {
        WriteQwenForm(node => node["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true });
        using var model = HfCheckpoint.LoadModel(RealModel);
        string path = Path.Combine(Path.GetTempPath(), $"nasprune-qwen-tokenizer-{Guid.NewGuid():N}.gguf");
        var e = Assert.Throws<UserError>(() => GgufExport.Write(model, dir, path, GgufTensorType.F32, "test"));
        Assert.Contains("with the NFC normalizer has no llama.cpp equivalent", e.Message);
        Assert.False(File.Exists(path));
    }
}
