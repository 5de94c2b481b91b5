namespace NasPrune.Common;

/// <summary>
/// A seeded random order of 0..count−1 (Fisher–Yates through <see cref="Random.Shuffle{T}(T[])"/>): the one way
/// NasPrune draws seeded subsets (pair windows, folds, held-out splits, learning-curve subsets), so a seed means the
/// same subset everywhere.
/// </summary>
public static class SeededPermutation
{
    public static int[] Of(int count, int seed)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(seed).Shuffle(order);
        return order;
    }
}
