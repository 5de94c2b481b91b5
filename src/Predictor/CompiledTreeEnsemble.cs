using System.Collections;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Trainers.FastTree;

namespace NasPrune.Predictor;

/// <summary>
/// A fitted tree ensemble (FastTree or LightGBM through ML.NET) copied into flat arrays and walked directly. The
/// search scores ~50,000 candidates per generation; an ML.NET transform spends its time building rows and cursors,
/// and a plain walk waits on a chain of dependent loads per level. So leaves become absorbing nodes (both children
/// point to themselves), every tree is walked a fixed number of levels (its depth), and a block of rows is walked
/// in lockstep: the rows' chains are independent, so the CPU overlaps them, and no branch depends on the data.
/// Same arithmetic as ML.NET: x ≤ threshold goes left, output = bias + Σ weight · leaf value (the tests and the
/// benchmark compare both paths).
/// </summary>
public sealed class CompiledTreeEnsemble
{
    const int Lanes = 16;
    readonly int[] treeBase, treeDepth;
    readonly int[] feature;
    /// <summary>children[2i] = left (x ≤ threshold), children[2i+1] = right; node indices relative to the tree's base.</summary>
    readonly int[] children;
    readonly float[] threshold;
    /// <summary>Leaf value × tree weight at leaf nodes, 0 at split nodes.</summary>
    readonly double[] value;
    readonly double bias;
    public int FeatureCount { get; }
    public int TreeCount => treeBase.Length;
    public double MeanDepth => treeDepth.DefaultIfEmpty(0).Average();

    CompiledTreeEnsemble(RegressionTreeEnsemble ensemble, int featureCount)
    {
        FeatureCount = featureCount;
        var trees = ensemble.Trees;
        var weights = ensemble.TreeWeights;
        treeBase = new int[trees.Count];
        treeDepth = new int[trees.Count];
        var f = new List<int>(); var c = new List<int>(); var t = new List<float>(); var v = new List<double>();
        for (int k = 0; k < trees.Count; k++)
        {
            var tree = trees[k];
            if (tree.CategoricalSplitFlags.Any(x => x)) throw new NotSupportedException("categorical splits");
            int splits = tree.NumberOfNodes;
            treeBase[k] = f.Count;
            int Node(int child) => child < 0 ? splits + ~child : child; // leaf ~j → node splits + j
            for (int i = 0; i < splits; i++)
            {
                if (tree.NumericalSplitFeatureIndexes[i] < 0 || tree.NumericalSplitFeatureIndexes[i] >= featureCount)
                    throw new InvalidDataException($"tree {k} splits on feature {tree.NumericalSplitFeatureIndexes[i]}, outside the {featureCount}-long vector");
                f.Add(tree.NumericalSplitFeatureIndexes[i]); t.Add(tree.NumericalSplitThresholds[i]);
                c.Add(Node(tree.LeftChild[i])); c.Add(Node(tree.RightChild[i])); v.Add(0);
            }
            for (int j = 0; j < tree.NumberOfLeaves; j++)
            {
                f.Add(0); t.Add(0); c.Add(splits + j); c.Add(splits + j); v.Add(weights[k] * tree.LeafValues[j]);
            }
            treeDepth[k] = Depth(tree, 0);
        }
        feature = f.ToArray(); children = c.ToArray(); threshold = t.ToArray(); value = v.ToArray();
        bias = ensemble.Bias;
    }

    static int Depth(RegressionTree tree, int node) =>
        tree.NumberOfNodes == 0 || node < 0 ? 0 : 1 + Math.Max(Depth(tree, tree.LeftChild[node]), Depth(tree, tree.RightChild[node]));

    /// <summary>The compiled ensemble of a fitted transformer, or null when it holds no tree model (the linear baseline).</summary>
    public static CompiledTreeEnsemble? TryCompile(ITransformer transformer, int featureCount)
    {
        var last = transformer is IEnumerable chain ? chain.Cast<ITransformer>().LastOrDefault() : transformer;
        var model = last?.GetType().GetProperty("Model")?.GetValue(last);
        return model is TreeEnsembleModelParametersBasedOnRegressionTree trees ? new CompiledTreeEnsemble(trees.TrainedTreeEnsemble, featureCount) : null;
    }

    /// <summary>Scores rows [from, to) of a row-major block.</summary>
    void PredictRange(float[] block, int from, int to, double[] result)
    {
        ref float x = ref MemoryMarshal.GetArrayDataReference(block);
        ref int feat = ref MemoryMarshal.GetArrayDataReference(feature);
        ref float thr = ref MemoryMarshal.GetArrayDataReference(threshold);
        ref int child = ref MemoryMarshal.GetArrayDataReference(children);
        ref double val = ref MemoryMarshal.GetArrayDataReference(value);
        Span<int> node = stackalloc int[Lanes];
        Span<int> rowStart = stackalloc int[Lanes];
        Span<double> sum = stackalloc double[Lanes];
        for (int start = from; start < to; start += Lanes)
        {
            int lanes = Math.Min(Lanes, to - start);
            for (int r = 0; r < lanes; r++) { rowStart[r] = (start + r) * FeatureCount; sum[r] = bias; }
            for (int k = 0; k < treeBase.Length; k++)
            {
                int b = treeBase[k];
                node[..lanes].Clear();
                for (int level = treeDepth[k]; level > 0; level--)
                    for (int r = 0; r < lanes; r++)
                    {
                        int i = b + node[r];
                        int right = Unsafe.Add(ref x, rowStart[r] + Unsafe.Add(ref feat, i)) <= Unsafe.Add(ref thr, i) ? 0 : 1;
                        node[r] = Unsafe.Add(ref child, 2 * i + right);
                    }
                for (int r = 0; r < lanes; r++) sum[r] += Unsafe.Add(ref val, b + node[r]);
            }
            for (int r = 0; r < lanes; r++) result[start + r] = sum[r];
        }
    }

    public double[] PredictBlock(float[] block, int featureCount)
    {
        if (featureCount != FeatureCount || block.Length % featureCount != 0)
            throw new ArgumentException($"feature block of {block.Length} values in rows of {featureCount}, the ensemble reads rows of {FeatureCount}");
        var result = new double[block.Length / featureCount];
        ParallelChunks.For(result.Length, (from, to) => PredictRange(block, from, to, result));
        return result;
    }
}
