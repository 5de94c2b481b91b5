using System.Collections;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Trainers.FastTree;

namespace NasPrune.Predictor;

/// <summary>
/// A fitted tree ensemble (FastTree or LightGBM through ML.NET) copied into flat arrays and walked directly. The
/// search scores ~50,000 candidates per generation; an ML.NET transform spends most of its time building rows and
/// cursors, not in the trees. Same arithmetic as ML.NET: x ≤ threshold goes to the left child, a negative child
/// is ~leaf, output = bias + Σ weight · leaf value (the tests and the benchmark compare both paths).
/// </summary>
public sealed class CompiledTreeEnsemble
{
    readonly int[] rootOffset, leafOffset, nodeCount;
    readonly int[] feature;
    /// <summary>children[2i] = left (x ≤ threshold), children[2i+1] = right: the step is an index, not a branch.</summary>
    readonly int[] children;
    readonly float[] threshold;
    readonly double[] leafValue, weight;
    readonly double bias;
    public int FeatureCount { get; private init; }

    CompiledTreeEnsemble(RegressionTreeEnsemble ensemble)
    {
        var trees = ensemble.Trees;
        rootOffset = new int[trees.Count];
        leafOffset = new int[trees.Count];
        nodeCount = new int[trees.Count];
        var f = new List<int>(); var l = new List<int>(); var r = new List<int>(); var t = new List<float>(); var v = new List<double>();
        for (int k = 0; k < trees.Count; k++)
        {
            var tree = trees[k];
            if (tree.CategoricalSplitFlags.Any(c => c)) throw new NotSupportedException("categorical splits");
            rootOffset[k] = f.Count;
            leafOffset[k] = v.Count;
            nodeCount[k] = tree.NumberOfNodes;
            f.AddRange(tree.NumericalSplitFeatureIndexes);
            t.AddRange(tree.NumericalSplitThresholds);
            l.AddRange(tree.LeftChild);
            r.AddRange(tree.RightChild);
            v.AddRange(tree.LeafValues);
        }
        feature = f.ToArray(); threshold = t.ToArray(); leafValue = v.ToArray();
        children = new int[2 * feature.Length];
        for (int i = 0; i < feature.Length; i++) { children[2 * i] = l[i]; children[2 * i + 1] = r[i]; }
        weight = ensemble.TreeWeights.ToArray();
        bias = ensemble.Bias;
    }

    /// <summary>The compiled ensemble of a fitted transformer, or null when it holds no tree model (the linear baseline).</summary>
    public static CompiledTreeEnsemble? TryCompile(ITransformer transformer, int featureCount)
    {
        var last = transformer is IEnumerable chain ? chain.Cast<ITransformer>().LastOrDefault() : transformer;
        var model = last?.GetType().GetProperty("Model")?.GetValue(last);
        if (model is not TreeEnsembleModelParametersBasedOnRegressionTree trees) return null;
        var compiled = new CompiledTreeEnsemble(trees.TrainedTreeEnsemble) { FeatureCount = featureCount };
        // Unchecked indexing below relies on every split naming a feature inside the vector.
        if (compiled.feature.Any(f => f < 0 || f >= featureCount)) throw new InvalidDataException($"tree ensemble splits on a feature outside the {featureCount}-long vector");
        return compiled;
    }

    public double Predict(ReadOnlySpan<float> x)
    {
        if (x.Length < FeatureCount) throw new ArgumentException($"feature vector of {x.Length}, the ensemble reads {FeatureCount}");
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref int feat = ref MemoryMarshal.GetArrayDataReference(feature);
        ref float thr = ref MemoryMarshal.GetArrayDataReference(threshold);
        ref int child = ref MemoryMarshal.GetArrayDataReference(children);
        double sum = bias;
        for (int k = 0; k < rootOffset.Length; k++)
        {
            int nodeBase = rootOffset[k];
            int node = nodeCount[k] == 0 ? ~0 : 0; // a tree without splits is its one leaf
            while (node >= 0)
            {
                int i = nodeBase + node;
                int goRight = Unsafe.Add(ref xs, Unsafe.Add(ref feat, i)) <= Unsafe.Add(ref thr, i) ? 0 : 1;
                node = Unsafe.Add(ref child, 2 * i + goRight);
            }
            sum += weight[k] * leafValue[leafOffset[k] + ~node];
        }
        return sum;
    }

    public double[] PredictBlock(float[] block, int featureCount)
    {
        var result = new double[block.Length / featureCount];
        ParallelChunks.For(result.Length, (from, to) =>
        {
            for (int r = from; r < to; r++) result[r] = Predict(block.AsSpan(r * featureCount, featureCount));
        });
        return result;
    }
}
