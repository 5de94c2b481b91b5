using NasPrune.Common;
using NasPrune.Evaluator.Model;

namespace NasPrune.Tests;

/// <summary>Small random models for tests of the library and of the command line.</summary>
static class TestModels
{
    /// <summary>A model of <paramref name="c"/> with large random weights, so that every part of the block matters; in eval mode.</summary>
    internal static LlamaForCausalLM Tiny(ModelConfig c, long seed = 7)
    {
        var m = new LlamaForCausalLM(c);
        m.InitializeWeights(seed, std: 0.3); // large weights so that every part of the block matters
        m.eval();
        return m;
    }

    /// <summary>A two-layer grouped-query config of <paramref name="modelType"/> (qwen2 with q/k/v biases).</summary>
    internal static ModelConfig SmallConfig(string modelType = "llama") =>
        ModelConfig.Uniform(vocab: 13, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 10, maxPositions: 16,
            modelType: modelType, qkvBias: modelType == "qwen2");
}
