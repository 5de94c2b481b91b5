using NasPrune.Common;

namespace NasPrune.Evaluator.Generation;

/// <summary>
/// Picks the next token from logits: greedy (argmax) at temperature 0, otherwise nucleus sampling, i.e. softmax at
/// the temperature restricted to the smallest set of most likely tokens whose probability reaches top-p. The
/// random stream is a seeded <see cref="Random"/>, so a seed fixes the generated text.
/// </summary>
public sealed class TokenSampler
{
    readonly double temperature, topP;
    readonly Random random;

    public TokenSampler(double temperature, double topP, long seed)
    {
        if (!(temperature >= 0) || double.IsInfinity(temperature)) throw new UserError($"--temperature {temperature}: must be a finite number >= 0 (0 is greedy)");
        if (!(topP > 0 && topP <= 1)) throw new UserError($"--top-p {topP}: must be in (0, 1]");
        this.temperature = temperature;
        this.topP = topP;
        random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
    }

    public bool Greedy => temperature == 0;

    public int Next(ReadOnlySpan<float> logits)
    {
        if (Greedy) return ArgMax(logits);
        // Probabilities in double, largest first; the nucleus is the shortest prefix whose mass reaches top-p.
        double max = double.MinValue;
        foreach (float l in logits) max = Math.Max(max, l);
        var order = new int[logits.Length];
        var p = new double[logits.Length];
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            order[i] = i;
            total += p[i] = Math.Exp((logits[i] - max) / temperature);
        }
        Array.Sort(order, (a, b) => p[b].CompareTo(p[a]) is var c && c != 0 ? c : a.CompareTo(b));
        int kept = 0;
        double mass = 0;
        while (kept < order.Length && (kept == 0 || mass < topP * total)) mass += p[order[kept++]];
        double u = random.NextDouble() * mass;
        for (int i = 0; i < kept; i++)
        {
            u -= p[order[i]];
            if (u < 0) return order[i];
        }
        return order[kept - 1]; // rounding left u a hair above zero
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
