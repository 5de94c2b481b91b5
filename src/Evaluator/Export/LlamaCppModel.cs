using LLama;
using LLama.Common;
using LLama.Native;

namespace NasPrune.Evaluator.Export;

/// <summary>
/// A GGUF file run by llama.cpp (LLamaSharp's bundled build): the independent reader the GGUF export is checked
/// against and the engine <c>bench generation</c> compares NasPrune with. The KV cache is float32 (llama.cpp's default
/// f16 cache would round keys and values, and the tests compare logits to 1e-3), as NasPrune's.
/// </summary>
public sealed class LlamaCppModel : IDisposable
{
    readonly LLamaWeights weights;
    readonly LLamaContext context;
    readonly int contextSize;

    /// <summary>Where llama.cpp's error messages go (the command line sends them to stderr; libraries never write to the console).</summary>
    public static Action<string> NativeErrors { get; set; } = _ => { };

    static LlamaCppModel() => NativeLogConfig.llama_log_set((level, message) =>
    {
        if (level == LLamaLogLevel.Error) NativeErrors(message);
    });

    public LlamaCppModel(string path, int contextSize, int threads = 2)
    {
        this.contextSize = contextSize;
        var p = new ModelParams(path)
        {
            ContextSize = (uint)contextSize,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        weights = LLamaWeights.LoadFromFile(p);
        context = weights.CreateContext(p);
    }

    public int VocabSize => weights.Vocab.Count;

    /// <summary>llama.cpp's token ids for a text: no BOS, special tokens not parsed (as NasPrune's Encode).</summary>
    public int[] Tokenize(string text) => context.Tokenize(text, addBos: false, special: false).Select(t => (int)t).ToArray();

    /// <summary>Logits [position][vocab] of one window, decoded from an empty cache.</summary>
    public float[][] Logits(IReadOnlyList<int> ids)
    {
        if (ids.Count > contextSize) throw new ArgumentException($"{ids.Count} tokens exceed the context of {contextSize}");
        context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Count; i++) batch.Add(ids[i], i, LLamaSeqId.Zero, true);
        var result = context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode: {result}");
        return Enumerable.Range(0, ids.Count).Select(i => context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>Runs tokens that continue the cached ones at <paramref name="start"/> (0 clears the cache first); the last one's logits.</summary>
    public float[] NextTokenLogits(IReadOnlyList<int> ids, int start)
    {
        if (start + ids.Count > contextSize) throw new ArgumentException($"{start + ids.Count} tokens exceed the context of {contextSize}");
        if (start == 0) context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Count; i++) batch.Add(ids[i], start + i, LLamaSeqId.Zero, i == ids.Count - 1);
        var result = context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode: {result}");
        return context.NativeHandle.GetLogitsIth(ids.Count - 1).ToArray();
    }

    public void Dispose()
    {
        context.Dispose();
        weights.Dispose();
    }
}
