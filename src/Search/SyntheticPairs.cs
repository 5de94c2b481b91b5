using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Search;

/// <summary>
/// Pairs with a known, made-up loss landscape, for tests and for the benchmark when no real pairs are at hand:
/// architectures drawn by the pairs stage's own <see cref="ArchitectureSampler"/> (random per-layer ratios projected
/// into a budget band, uniform anchors first), NLL = base + Σ layer weight × (removed share)^1.5 with early layers and
/// heads weighted more, plus a little seeded noise. The loss grows monotonically with every removed head or channel.
/// </summary>
public static class SyntheticPairs
{
    public const string FakeHash = "5e1f7e57da7a";

    public static double Loss(Architecture a, ModelConfig c)
    {
        double loss = 3.0;
        for (int i = 0; i < a.Layers.Count; i++)
        {
            double head = a.HeadRatio(i, c), ffn = a.FfnRatio(i, c);
            double depthWeight = 1.5 - (double)i / a.Layers.Count; // early layers matter more
            loss += depthWeight * (0.8 * Math.Pow(1 - head, 1.5) + 0.5 * Math.Pow(1 - ffn, 1.5));
        }
        return loss;
    }

    public static IReadOnlyList<PairRecord> Generate(ModelConfig config, int count, int seed, double minKept = 0.75, double maxKept = 0.85,
        double noise = 0.002, string baseHash = FakeHash)
    {
        var space = new PruningSpace(config, baseHash);
        var archs = new ArchitectureSampler(space).Sample(new SamplerOptions(new BudgetBand(minKept, maxKept), count, seed));
        var rng = new Random(seed); // the noise: its own stream, so it does not depend on how many draws the sampler made
        return archs.Select((a, i) => Row(a, config, Loss(a, config) + noise * Gaussian(rng), i)).ToList();
    }

    public static PairRecord Row(Architecture a, ModelConfig config, double nll, int index) => new()
    {
        ArchId = a.Id, BaseModel = a.Base, Architecture = a.ToJsonString(),
        HeadRatio = a.Layers.Select((_, i) => a.HeadRatio(i, config)).ToList(),
        FfnRatio = a.Layers.Select((_, i) => a.FfnRatio(i, config)).ToList(),
        LayerKept = a.Layers.Select(l => l.Keep ? 1.0 : 0.0).ToList(),
        Params = a.Params(config), ParamRatio = a.ParamRatio(config),
        WikiText2Nll = nll, WikiText2Ppl = Math.Exp(nll), Source = PairSource.Synthetic, SampleIndex = index,
    };

    /// <summary>An importance profile whose scores fall with position (kept-prefix order) and with depth.</summary>
    public static ImportanceProfile Profile(ModelConfig c, string baseHash = FakeHash) => new(
        "synthetic", baseHash, c.GroupSize,
        c.Layers.Select((l, i) => Enumerable.Range(0, l.Heads).Select(k => (1.5 - (double)i / c.NumHiddenLayers) / (1 + k)).ToArray()).ToArray(),
        c.Layers.Select((l, i) => Enumerable.Range(0, l.Ffn).Select(k => (1.5 - (double)i / c.NumHiddenLayers) / (1 + 0.05 * k)).ToArray()).ToArray(),
        c.Layers.Select((_, i) => 1.5 - (double)i / c.NumHiddenLayers).ToArray());

    static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
