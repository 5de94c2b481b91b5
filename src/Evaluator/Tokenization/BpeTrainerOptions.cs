namespace NasPrune.Evaluator.Tokenization;

/// <summary>Settings for <see cref="ByteLevelBpeTrainer"/>.</summary>
/// <param name="VocabSize">
/// Target vocabulary size, special tokens and the 256 byte symbols included. Training stops earlier when no pair
/// reaches <paramref name="MinFrequency"/>, so a small corpus may give a smaller vocabulary.
/// </param>
/// <param name="MinFrequency">A pair must occur at least this often in the corpus to be merged.</param>
/// <param name="SpecialTokens">Tokens that get the first ids, in this order, and are never split or merged.</param>
public sealed record BpeTrainerOptions(int VocabSize = 4096, int MinFrequency = 2, IReadOnlyList<string>? SpecialTokens = null)
{
    /// <summary>The special tokens, defaulting to GPT-2's single end-of-text token.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = SpecialTokens ?? ["<|endoftext|>"];
}
