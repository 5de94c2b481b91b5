using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Evaluator.Recovery;

/// <summary>
/// Recovery without training: after structured pruning, each layer's output projections (o_proj, down_proj) are
/// refitted by least squares so that the pruned block's output approximates the dense block's, the
/// reconstruction step of greedy output-approximation pruning (Li, Dong &amp; Lei, 2024).
///
/// For down_proj of layer l: X_d is the dense model's input to down_proj (all its channels), Y = X_d·W_downᵀ the
/// dense MLP's output contribution, and X_p the pruned model's input to down_proj (its kept channels), computed
/// from the pruned model's own hidden states, so the refit also absorbs the errors of earlier layers. Then
/// W' = argmin ‖X_p·W'ᵀ − Y‖² + λ‖W' − W‖², solved in float64 (see <see cref="OutputProjectionFit"/>). o_proj is
/// refitted the same way on the merged per-head attention output. Layers go in order; within a layer o_proj goes
/// first, so down_proj's inputs already see the refitted attention. Biases are left as they are (dense and pruned
/// share them). Every present block is refitted, unpruned ones included: they too compensate upstream errors.
///
/// The pruned model may be physically smaller (<see cref="PhysicalPruning.Extract(LlamaForCausalLM, Architecture)"/>)
/// or a full-size model with active shapes set; either way its kept heads/channels must be a prefix of the dense
/// model's, and the refitted weights are written in place (into the prefix views in the second case).
/// </summary>
public static class LeastSquaresReconstruction
{
    /// <summary>
    /// Refits <paramref name="pruned"/>'s output projections against <paramref name="dense"/> on calibration token
    /// windows (all of one length; draw them from a validation split, never test). Reports progress in layers done.
    /// </summary>
    public static IReadOnlyList<ReconstructedProjection> Run(LlamaForCausalLM dense, LlamaForCausalLM pruned,
        IReadOnlyList<long[]> windows, ReconstructionOptions? options = null, IProgress<int>? progress = null)
    {
        options ??= new ReconstructionOptions();
        options.Validate();
        if (ReferenceEquals(dense, pruned))
            throw new ArgumentException("the dense and the pruned model must be different instances: the dense weights are the target");
        CheckCompatible(dense.Config, pruned.Config);
        CheckWindows(windows, Math.Min(dense.Config.MaxPositionEmbeddings, pruned.Config.MaxPositionEmbeddings));

        var denseDevice = dense.model.embed_tokens.weight!.device;
        var prunedDevice = pruned.model.embed_tokens.weight!.device;
        int seq = windows[0].Length;
        var results = new List<ReconstructedProjection>();
        using var _ = no_grad();
        var (denseCos, denseSin) = Rotary.Tables(dense.Config, seq, denseDevice);
        var (prunedCos, prunedSin) = Rotary.Tables(pruned.Config, seq, prunedDevice);
        var denseHidden = new List<Tensor>();
        var prunedHidden = new List<Tensor>();
        try
        {
            // Hidden states of every calibration batch enter layer 0 as embeddings, then advance layer by layer.
            for (int start = 0; start < windows.Count; start += options.BatchSize)
            {
                using var ids = Batch(windows, start, options.BatchSize);
                denseHidden.Add(Embed(dense, ids, denseDevice));
                prunedHidden.Add(Embed(pruned, ids, prunedDevice));
            }

            for (int l = 0; l < pruned.Config.NumHiddenLayers; l++)
            {
                var denseLayer = dense.model.layers[l];
                var prunedLayer = pruned.model.layers[l];
                var attention = HasActiveAttention(prunedLayer) && HasActiveAttention(denseLayer) ? prunedLayer.self_attn : null;
                var mlp = HasActiveMlp(prunedLayer) && HasActiveMlp(denseLayer) ? prunedLayer.mlp : null;

                var (attentionTargets, mlpTargets) = AdvanceDense(denseLayer, denseHidden, denseCos, denseSin, prunedDevice,
                    captureAttention: attention is not null, captureMlp: mlp is not null);
                try
                {
                    if (attention is not null)
                        results.Add(Refit(l, "o_proj", attention.o_proj, attention.ActiveHeads * pruned.Config.HeadDim,
                            hook => attention.OnOutputProjectionInput = hook, prunedLayer, prunedHidden, attentionTargets,
                            prunedCos, prunedSin, options.Ridge));
                    if (mlp is not null)
                        results.Add(Refit(l, "down_proj", mlp.down_proj, mlp.ActiveChannels,
                            hook => mlp.OnOutputProjectionInput = hook, prunedLayer, prunedHidden, mlpTargets,
                            prunedCos, prunedSin, options.Ridge));
                }
                finally
                {
                    foreach (var t in attentionTargets.Concat(mlpTargets)) t.Dispose();
                }
                Advance(prunedLayer, prunedHidden, prunedCos, prunedSin);
                progress?.Report(l + 1);
            }
        }
        finally
        {
            foreach (var t in denseHidden.Concat(prunedHidden)) t.Dispose();
            denseCos.Dispose(); denseSin.Dispose(); prunedCos.Dispose(); prunedSin.Dispose();
        }
        return results;
    }

    static bool HasActiveAttention(LlamaDecoderLayer layer) => layer.Active && layer.self_attn is { ActiveHeads: > 0 };
    static bool HasActiveMlp(LlamaDecoderLayer layer) => layer.Active && layer.mlp is { ActiveChannels: > 0 };

    /// <summary>
    /// Runs the dense layer over every batch, advancing its hidden states and keeping the targets: the output of
    /// o_proj and of down_proj without bias, in float32 on the pruned model's device.
    /// </summary>
    static (List<Tensor> Attention, List<Tensor> Mlp) AdvanceDense(LlamaDecoderLayer layer, List<Tensor> hidden,
        Tensor cos, Tensor sin, Device targetDevice, bool captureAttention, bool captureMlp)
    {
        var attention = new List<Tensor>();
        var mlp = new List<Tensor>();
        if (captureAttention && layer.self_attn is { } attn)
            attn.OnOutputProjectionInput = x => attention.Add(Contribution(x, attn.o_proj, targetDevice));
        if (captureMlp && layer.mlp is { } block)
            block.OnOutputProjectionInput = x => mlp.Add(Contribution(x, block.down_proj, targetDevice));
        try
        {
            Advance(layer, hidden, cos, sin);
        }
        finally
        {
            if (layer.self_attn is not null) layer.self_attn.OnOutputProjectionInput = null;
            if (layer.mlp is not null) layer.mlp.OnOutputProjectionInput = null;
        }
        return (attention, mlp);
    }

    /// <summary>x·Wᵀ over x's width (the active prefix of W's columns), float32, detached from the layer's scope.</summary>
    static Tensor Contribution(Tensor x, Linear projection, Device device)
    {
        using var scope = NewDisposeScope();
        var weight = projection.weight!.narrow(1, 0, x.shape[^1]).to(ScalarType.Float32);
        var y = F.linear(x.to(ScalarType.Float32), weight).to(device);
        return y.DetachFromDisposeScope();
    }

    /// <summary>
    /// Accumulates the normal equations of one projection over all batches (the pruned layer's forward with the
    /// capture hook set), solves them and writes the refitted weight into the projection's active columns.
    /// </summary>
    static ReconstructedProjection Refit(int layerIndex, string name, Linear projection, int inFeatures,
        Action<Action<Tensor>?> setHook, LlamaDecoderLayer layer, List<Tensor> hidden, List<Tensor> targets,
        Tensor cos, Tensor sin, double ridge)
    {
        if (targets.Count != hidden.Count)
            throw new InvalidOperationException($"layer {layerIndex} {name}: {targets.Count} dense targets for {hidden.Count} batches");
        var weight = projection.weight!.narrow(1, 0, inFeatures);
        using var fit = new OutputProjectionFit(inFeatures, weight.shape[0], weight.device);
        Tensor? target = null;
        setHook(x => fit.Add(x, target!));
        try
        {
            for (int b = 0; b < hidden.Count; b++)
            {
                using var scope = NewDisposeScope();
                target = targets[b];
                layer.call(hidden[b], cos, sin);
            }
        }
        finally
        {
            setHook(null);
        }
        var (solved, lambda, before, after) = fit.Solve(weight, ridge);
        using (solved) weight.copy_(solved);
        return new ReconstructedProjection(layerIndex, name, inFeatures, fit.Tokens, lambda, before, after);
    }

    /// <summary>Replaces every batch's hidden states by the layer's output.</summary>
    static void Advance(LlamaDecoderLayer layer, List<Tensor> hidden, Tensor cos, Tensor sin)
    {
        for (int b = 0; b < hidden.Count; b++)
        {
            var next = layer.call(hidden[b], cos, sin).DetachFromDisposeScope();
            hidden[b].Dispose();
            hidden[b] = next;
        }
    }

    static Tensor Embed(LlamaForCausalLM model, Tensor ids, Device device)
    {
        using var scope = NewDisposeScope();
        return model.model.embed_tokens.call(ids.to(device)).DetachFromDisposeScope();
    }

    static Tensor Batch(IReadOnlyList<long[]> windows, int start, int batchSize)
    {
        int n = Math.Min(batchSize, windows.Count - start);
        int seq = windows[start].Length;
        var flat = new long[n * seq];
        for (int b = 0; b < n; b++) Array.Copy(windows[start + b], 0, flat, b * seq, seq);
        return tensor(flat, [n, seq]);
    }

    static void CheckCompatible(ModelConfig dense, ModelConfig pruned)
    {
        if (dense.NumHiddenLayers != pruned.NumHiddenLayers)
            throw new UserError($"the pruned model has {pruned.NumHiddenLayers} layers, the dense model {dense.NumHiddenLayers}");
        if (dense.HiddenSize != pruned.HiddenSize || dense.HeadDim != pruned.HeadDim || dense.VocabSize != pruned.VocabSize)
            throw new UserError($"the pruned model (hidden {pruned.HiddenSize}, head_dim {pruned.HeadDim}, vocab {pruned.VocabSize}) is not a pruning of the dense model (hidden {dense.HiddenSize}, head_dim {dense.HeadDim}, vocab {dense.VocabSize})");
    }

    static void CheckWindows(IReadOnlyList<long[]> windows, int maxPositions)
    {
        if (windows.Count == 0) throw new UserError("calibration windows: none given");
        int seq = windows[0].Length;
        if (seq < 1 || seq > maxPositions)
            throw new UserError($"calibration windows: length {seq} is outside 1..{maxPositions} (max_position_embeddings)");
        if (windows.Any(w => w.Length != seq))
            throw new UserError($"calibration windows: lengths differ (the first has {seq} tokens)");
    }
}
