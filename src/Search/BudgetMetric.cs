namespace NasPrune.Search;

/// <summary>What a budget band measures: the kept share of parameters, or of forward FLOPs per token.</summary>
public enum BudgetMetric { Params, Flops }
