namespace NasPrune.Tests.BadInputs;

/// <summary>
/// One row of the bad-input table: a command line built on a <see cref="Sandbox"/> (whose helpers apply the
/// mutation), and the pattern its single <c>nasprune: error:</c> line must match (after the prefix).
/// <paramref name="Mounts"/> marks the cases that need the read-only or full tmpfs.
/// </summary>
public sealed record BadInput(string Name, Func<Sandbox, string[]> Args, string Expect, bool Mounts = false)
{
    public override string ToString() => Name;
}
