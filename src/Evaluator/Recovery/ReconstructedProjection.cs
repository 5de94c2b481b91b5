namespace NasPrune.Evaluator.Recovery;

/// <summary>
/// What refitting one output projection did. Errors are relative squared errors on the calibration tokens,
/// ‖X_p·Wᵀ − Y‖² / ‖Y‖², with X_p the pruned model's input to the projection and Y the dense block's output
/// (before the bias): <see cref="ErrorBefore"/> for the weights the pruned model had, <see cref="ErrorAfter"/>
/// for the refitted ones, both at the same inputs (so After ≤ Before always holds up to rounding).
/// </summary>
public sealed record ReconstructedProjection(
    int Layer, string Projection, int InFeatures, long Tokens, double Lambda, double ErrorBefore, double ErrorAfter);
