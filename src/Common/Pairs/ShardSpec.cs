using System.Globalization;

namespace NasPrune.Common.Pairs;

/// <summary>
/// "Worker <see cref="Index"/> of <see cref="Count"/>": every worker draws the same seeded candidate stream and keeps
/// the positions p with p mod Count = Index, so N workers together evaluate exactly what one worker would.
/// </summary>
public sealed record ShardSpec(int Index, int Count)
{
    public static ShardSpec Single { get; } = new(0, 1);

    /// <summary>Parses "i/N" (0 ≤ i &lt; N), as Slurm gives it: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT.</summary>
    public static ShardSpec Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new UserError($"--shard '{text}': expected i/N, e.g. 0/4");
        if (n < 1 || i >= n) throw new UserError($"--shard '{text}': needs 0 ≤ i < N");
        return new ShardSpec(i, n);
    }

    public bool Owns(int streamPosition) => streamPosition % Count == Index;

    /// <summary>This worker's folder inside a pairs directory (docs/ARCHITECTURE.md: pairs/shard-&lt;i&gt;-of-&lt;N&gt;/).</summary>
    public string DirectoryName => $"shard-{Index}-of-{Count}";

    public override string ToString() => $"{Index}/{Count}";
}
