using NasPrune.Common;

namespace NasPrune.Evaluator.Pairs;

/// <summary>
/// What a pair measures on the WikiText-2 windows (<c>sample --measure</c>):
/// <list type="bullet">
/// <item><c>nll</c>: next-token NLL (and any further --tasks, --zeroshot).</item>
/// <item><c>kl</c>: KL(dense ‖ candidate) on WikiText-2 (wikitext2_kl); wikitext2_nll is recorded too, since it comes
/// from the same log-probabilities at no cost and every pair row has it. NLL-only extras (more tasks, zero-shot) are
/// refused: ask for both.</item>
/// <item><c>both</c>: everything nll measures plus wikitext2_kl.</item>
/// </list>
/// </summary>
public static class PairMeasure
{
    public const string Nll = "nll";
    public const string Kl = "kl";
    public const string Both = "both";
    public static readonly string[] All = [Nll, Kl, Both];

    /// <summary>Default size of the dense top-k cache (see DenseReference; 0 = exact KL).</summary>
    public const int DefaultKlTopK = 64;

    public static string Check(string measure, string field)
    {
        if (!All.Contains(measure)) throw new UserError($"{field} '{measure}': expected one of {string.Join(", ", All)}");
        return measure;
    }

    public static bool HasKl(string measure) => measure != Nll;
}
