using NasPrune.Evaluator.Model;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>Running calibration windows through a model the way every data-driven criterion needs it.</summary>
internal static class CalibrationPass
{
    /// <summary>
    /// Runs <paramref name="body"/> with every layer at its full stored shape (criteria score every stored head and
    /// channel, whatever candidate the caller had applied), then gives the caller's active shapes back.
    /// </summary>
    public static T AtFullShape<T>(LlamaForCausalLM model, Func<T> body)
    {
        var saved = model.Layers.Select(l => l.ActiveShape).ToArray();
        model.ResetActiveShapes();
        try { return body(); }
        finally { model.SetActiveShapes(saved); }
    }

    /// <summary>Calls <paramref name="body"/> on [batch, seqLen] id tensors covering every window once, in order.</summary>
    public static void ForEachBatch(LlamaForCausalLM model, CalibrationData data, int batchSize, Action<Tensor> body)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be positive");
        data.CheckVocabulary(model.Config.VocabSize);
        var device = model.model.embed_tokens.weight!.device;
        for (int start = 0; start < data.Windows.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            body(data.Batch(start, Math.Min(batchSize, data.Windows.Count - start), device));
        }
    }

    /// <summary>A small tensor's values as doubles on the CPU.</summary>
    public static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().to_type(ScalarType.Float64).cpu();
        return d.data<double>().ToArray();
    }
}
