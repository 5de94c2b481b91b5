using MathNet.Numerics.Distributions;
using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>How the active search scores a candidate from the ensemble's mean and spread (lower is better).</summary>
public enum AcquisitionKind
{
    /// <summary>The mean prediction alone (pure exploitation, the loop before uncertainty existed).</summary>
    Mean,
    /// <summary>Lower confidence bound: mean − κ·spread (optimism in the face of uncertainty).</summary>
    Lcb,
    /// <summary>Expected improvement over the best measured value, under a normal belief N(mean, spread²).</summary>
    Ei,
}

/// <summary>
/// Acquisition functions for minimisation. Expected improvement is E[max(best − Y, 0)] for Y ~ N(μ, σ²):
/// (best − μ)·Φ(z) + σ·φ(z) with z = (best − μ)/σ (Jones et al. 1998); it is returned negated so that every
/// acquisition is "lower is better" like the predictions themselves.
/// </summary>
public static class Acquisition
{
    public static double[] Score(AcquisitionKind kind, double[] mean, double[] spread, double bestMeasured, double kappa)
    {
        if (mean.Length != spread.Length) throw new ArgumentException("mean and spread differ in length");
        var score = new double[mean.Length];
        for (int i = 0; i < mean.Length; i++)
            score[i] = kind switch
            {
                AcquisitionKind.Mean => mean[i],
                AcquisitionKind.Lcb => mean[i] - kappa * spread[i],
                AcquisitionKind.Ei => -ExpectedImprovement(mean[i], spread[i], bestMeasured),
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
        return score;
    }

    /// <summary>E[max(best − Y, 0)], Y ~ N(mean, spread²); with no spread, the plain improvement.</summary>
    public static double ExpectedImprovement(double mean, double spread, double best)
    {
        double gain = best - mean;
        if (!(spread > 1e-12)) return Math.Max(gain, 0);
        double z = gain / spread;
        return gain * Normal.CDF(0, 1, z) + spread * Normal.PDF(0, 1, z);
    }
}
