using NasPrune.Common;

namespace NasPrune.Predictor;

/// <summary>
/// A ridge-regression trend under the trees: the trees then fit only what a linear function of the features misses.
/// With a few hundred pairs a boosted ensemble reproduces a smooth, nearly additive loss surface (removing more
/// importance costs more, everywhere) only in coarse steps, while a linear model gets its slope right from few pairs
/// but misses interactions and outliers; trees on the ridge residuals get both. Features are standardised with the
/// training means and standard deviations; the penalty is <c>lambda · n · ‖β‖²</c> on the standardised coefficients.
/// Stored in the predictor card (a few dozen numbers).
/// </summary>
public sealed record RidgeBase(double Intercept, double[] Mean, double[] Scale, double[] Beta)
{
    public static RidgeBase Fit(float[] block, IReadOnlyList<double> labels, int d, double lambda)
    {
        int n = labels.Count;
        if (n == 0 || block.Length != n * d) throw new ArgumentException("ridge: block and labels differ in rows");
        var mean = new double[d];
        var scale = new double[d];
        for (int r = 0; r < n; r++) for (int j = 0; j < d; j++) mean[j] += block[r * d + j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        for (int r = 0; r < n; r++) for (int j = 0; j < d; j++) { double v = block[r * d + j] - mean[j]; scale[j] += v * v; }
        for (int j = 0; j < d; j++) { double sd = Math.Sqrt(scale[j] / n); scale[j] = sd > 1e-12 ? 1 / sd : 0; } // constant column: no weight
        double yMean = labels.Average();
        var a = new double[d, d];
        var b = new double[d];
        var z = new double[d];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < d; j++) z[j] = (block[r * d + j] - mean[j]) * scale[j];
            double y = labels[r] - yMean;
            for (int j = 0; j < d; j++)
            {
                b[j] += z[j] * y;
                for (int k = 0; k <= j; k++) a[j, k] += z[j] * z[k];
            }
        }
        for (int j = 0; j < d; j++) { a[j, j] += lambda * n + 1e-9; for (int k = 0; k < j; k++) a[k, j] = a[j, k]; }
        var beta = SolveCholesky(a, b, d);
        for (int j = 0; j < d; j++) beta[j] *= scale[j]; // back to raw feature units
        return new RidgeBase(yMean, mean, scale, beta);
    }

    /// <summary>
    /// The predictor's recipe on a feature block, step one: the ridge trend, and the labels it leaves for the trees
    /// (its residuals). Used by <see cref="AccuracyPredictor"/> and by the transfer study, which must fit alike.
    /// </summary>
    public static (RidgeBase Trend, double[] Residuals) FitWithResiduals(float[] block, double[] labels, int d, double lambda)
    {
        var ridge = Fit(block, labels, d, lambda);
        var trend = new double[labels.Length];
        ridge.AddTo(trend, block);
        return (ridge, labels.Select((y, i) => y - trend[i]).ToArray());
    }

    /// <summary>Solves A x = b for a symmetric positive definite A (the ridge normal equations).</summary>
    static double[] SolveCholesky(double[,] a, double[] b, int d)
    {
        var l = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                if (i == j) l[i, i] = Math.Sqrt(Math.Max(s, 1e-12));
                else l[i, j] = s / l[j, j];
            }
        var y = new double[d];
        for (int i = 0; i < d; i++) { double s = b[i]; for (int k = 0; k < i; k++) s -= l[i, k] * y[k]; y[i] = s / l[i, i]; }
        var x = new double[d];
        for (int i = d - 1; i >= 0; i--) { double s = y[i]; for (int k = i + 1; k < d; k++) s -= l[k, i] * x[k]; x[i] = s / l[i, i]; }
        return x;
    }

    public double Predict(ReadOnlySpan<float> x)
    {
        double s = Intercept;
        for (int j = 0; j < Beta.Length; j++) s += Beta[j] * (x[j] - Mean[j]);
        return s;
    }

    public void AddTo(double[] predictions, float[] block)
    {
        int d = Beta.Length;
        if (block.Length != predictions.Length * d) throw new UserError($"ridge base: {block.Length} feature values for {predictions.Length} rows of {d}");
        for (int r = 0; r < predictions.Length; r++) predictions[r] += Predict(block.AsSpan(r * d, d));
    }
}
