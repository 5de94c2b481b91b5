using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>An architecture with its predicted metric (lower is better).</summary>
public sealed record ScoredArchitecture(Architecture Architecture, double Score);
