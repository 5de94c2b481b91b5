using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Tokenization;

namespace NasPrune.Tests;

/// <summary>A tiny random model with a real BPE tokenizer in a temporary Hugging Face directory.</summary>
public sealed class TinyModelDirectory : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "nasprune-tiny-" + Guid.NewGuid().ToString("N"));

    public TinyModelDirectory()
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "brown-excerpt.txt"));
        ByteLevelBpeTrainer.Train([text], new BpeTrainerOptions(VocabSize: 300)).Save(Dir, 32);
        int vocab = TokenizerLoader.Load(Dir).VocabSize;
        var config = ModelConfig.Uniform(vocab, hidden: 32, layers: 3, heads: 4, kvHeads: 2, ffn: 48, maxPositions: 32);
        using var model = new LlamaForCausalLM(config);
        model.InitializeWeights(11, std: 0.2);
        HfCheckpoint.SaveModel(model, Dir);
    }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}
