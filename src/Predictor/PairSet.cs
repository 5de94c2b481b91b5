using System.Security.Cryptography;
using System.Text;
using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Predictor;

/// <summary>
/// Pairs of one base model, parsed once: each row with its architecture. Construction checks that every row
/// comes from the same base model (a predictor learns one model's landscape) and fits its configuration.
/// </summary>
public sealed class PairSet
{
    public string BaseModel { get; }
    public ModelConfig Config { get; }
    public IReadOnlyList<(Architecture Arch, PairRecord Row)> Items { get; }
    public int Count => Items.Count;

    public PairSet(IReadOnlyList<PairRecord> rows, ModelConfig config, string source = "pairs")
    {
        if (rows.Count == 0) throw new UserError($"{source}: no pairs");
        BaseModel = rows[0].BaseModel;
        var other = rows.FirstOrDefault(r => r.BaseModel != BaseModel);
        if (other is not null)
            throw new UserError($"{source}: pairs of two base models ({BaseModel} and {other.BaseModel}); a predictor learns one");
        Config = config;
        Items = rows.Select(r =>
        {
            var a = r.ToArchitecture($"{source}: pair {r.ArchId}");
            a.Validate(config, $"{source}: pair {r.ArchId}");
            if (double.IsNaN(r.WikiText2Nll) || double.IsInfinity(r.WikiText2Nll))
                throw new UserError($"{source}: pair {r.ArchId} has no finite wikitext2_nll");
            return (a, r);
        }).ToList();
    }

    PairSet(PairSet parent, IReadOnlyList<(Architecture, PairRecord)> items)
    {
        BaseModel = parent.BaseModel; Config = parent.Config; Items = items;
    }

    public PairSet Subset(IEnumerable<int> indices) => new(this, indices.Select(i => Items[i]).ToList());

    /// <summary>A seeded random subset of <paramref name="count"/> rows (all of them when count ≥ Count).</summary>
    public PairSet Sample(int count, int seed)
    {
        var order = SeededPermutation.Of(Count, seed);
        return Subset(order.Take(Math.Min(count, Count)).Order());
    }

    public IReadOnlyList<Architecture> Architectures => Items.Select(p => p.Arch).ToList();

    public double[] Nll => Items.Select(p => p.Row.WikiText2Nll).ToArray();

    /// <summary>SHA-256 (12 hex) over the sorted (arch id, NLL[, KL]) rows: two predictors saw the same data iff equal.</summary>
    public string Hash()
    {
        // KL joins the line only where measured, so hashes of NLL-only pairs are what they were before KL existed.
        var lines = Items.Select(p => $"{p.Row.ArchId}:{p.Row.WikiText2Nll:R}{(p.Row.WikiText2Kl is double kl ? $":{kl:R}" : "")}").Order(StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', lines))))[..12];
    }

    /// <summary>Throws when these pairs were measured on another base model than <paramref name="expected"/>.</summary>
    public void RequireBase(string expected, string source)
    {
        if (BaseModel != expected)
            throw new UserError($"{source}: pairs are of base model {BaseModel}, the predictor was trained on {expected}");
    }
}
