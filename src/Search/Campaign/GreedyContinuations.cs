using NasPrune.Common;
using NasPrune.Evaluator.Generation;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Pruning;

namespace NasPrune.Search.Campaign;

/// <summary>One method's greedy continuation of one fixed prompt.</summary>
public sealed record Continuation(CampaignMethod Method, string Prompt, string Text);

/// <summary>
/// final/continuations.json: a few greedy continuations of fixed prompts from every method's pruned model (no
/// recovery), so a reader of the report sees what pruning did to the text, not only to the perplexity. Greedy
/// decoding has no randomness, so a rerun writes the same text.
/// </summary>
public static class GreedyContinuations
{
    /// <summary>Plain English openings, none taken from a test split.</summary>
    public static readonly string[] Prompts = ["The history of the city begins", "In the early years of the war, the"];
    public const int NewTokens = 32;

    public static IReadOnlyList<Continuation> Make(PreparedModel prepared, IReadOnlyList<(CampaignMethod Method, Architecture? Arch)> methods, IProgressReporter reporter)
    {
        var result = new List<Continuation>();
        foreach (var (method, arch) in methods)
        {
            LlamaForCausalLM? extracted = null;
            try
            {
                if (arch is null) prepared.Reset();
                else extracted = prepared.Extract(arch);
                var model = extracted ?? prepared.Model;
                foreach (string prompt in Prompts)
                {
                    var ids = prepared.Tokenizer.Encode(prompt);
                    // A short-context model (the tests' tiny one) continues as far as its context allows.
                    int room = Math.Min(NewTokens, model.Config.MaxPositionEmbeddings - ids.Length + 1);
                    if (room < 1) continue;
                    var generated = TextGenerator.Generate(model, ids, room, new TokenSampler(0, 1, 0));
                    result.Add(new Continuation(method, prompt, prepared.Tokenizer.Decode(generated.Tokens)));
                }
            }
            finally { extracted?.Dispose(); }
        }
        reporter.Log($"greedy continuations: {methods.Count} models × {Prompts.Length} prompts");
        return result;
    }
}
