using NasPrune.Common;

namespace NasPrune.Evaluator.Importance;

/// <summary>The importance criteria by name, for the command line and the search.</summary>
public static class ImportanceCriteria
{
    public static IReadOnlyList<IImportanceCriterion> All { get; } =
        [new MagnitudeCriterion(), new ActivationCriterion(), new TaylorCriterion(), new OutputApproximationCriterion()];

    public static IReadOnlyList<string> Names { get; } = All.Select(c => c.Name).ToArray();

    public static IImportanceCriterion Get(string name) =>
        All.FirstOrDefault(c => c.Name == name.Trim().ToLowerInvariant())
        ?? throw new UserError($"unknown importance criterion '{name}' (known: {string.Join(", ", Names)})");
}
