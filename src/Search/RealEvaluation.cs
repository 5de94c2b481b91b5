namespace NasPrune.Search;

/// <summary>
/// One real (measured, not predicted) evaluation a search asked for, in the order it asked: the architecture, how
/// many validation windows it was measured on (its cost in window-evaluations), the objective (lower is better) and
/// whether that was the full fidelity. Predictor-free peers and the predictor-guided loop log the same entries, so
/// their anytime curves (<see cref="AnytimeCurve"/>) compare on one axis: window-evaluations spent.
/// </summary>
/// <param name="Index">Position in the log (0-based): the order of the fitness calls.</param>
/// <param name="ArchId">The architecture's <see cref="NasPrune.Common.Architecture.Id"/>.</param>
/// <param name="Windows">Validation windows measured (the first <c>Windows</c> of the full set).</param>
/// <param name="Objective">The measured objective on those windows, lower is better.</param>
/// <param name="Full">True when measured on the full windows (a screen on fewer windows is false).</param>
public sealed record RealEvaluation(int Index, string ArchId, int Windows, double Objective, bool Full);
