using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Tests;

/// <summary>
/// The harness tests' model: a tokenizer trained here on the fixtures, and a small random model over its
/// vocabulary: real components, just small. Large weights (std 0.3) make the choices' log-likelihoods clearly different.
/// </summary>
public static class TinyHarnessModel
{
    public static readonly Lazy<ByteLevelBpeModel> Bpe = new(() => ByteLevelBpeTrainer.Train(
        new[] { "brown-excerpt.txt", "wikitext2-valid-excerpt.txt" }.Select(f => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", f))),
        new BpeTrainerOptions(VocabSize: 600)));

    public static readonly Lazy<TextTokenizer> Tokenizer = new(() =>
    {
        string tokDir = Directory.CreateTempSubdirectory("nasprune-harness-tok-").FullName;
        try
        {
            Bpe.Value.Save(tokDir, modelMaxLength: 512);
            return TokenizerLoader.Load(tokDir);
        }
        finally { Directory.Delete(tokDir, recursive: true); }
    });

    public static LlamaForCausalLM Create(int maxPositions = 512)
    {
        var config = ModelConfig.Uniform(vocab: Tokenizer.Value.VocabSize, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 48,
            maxPositions: maxPositions);
        var model = new LlamaForCausalLM(config);
        model.InitializeWeights(seed: 11, std: 0.3);
        model.eval();
        return model;
    }

    /// <summary>The model (128 positions) and its tokenizer as a Hugging Face directory, for the command line.</summary>
    public static string Save(string modelDir)
    {
        using (var model = Create(128)) HfCheckpoint.SaveModel(model, modelDir);
        Bpe.Value.Save(modelDir, modelMaxLength: 128);
        return modelDir;
    }
}
