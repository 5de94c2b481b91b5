using NasPrune.Evaluator.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using NasPrune.Evaluator.Runtime;

namespace NasPrune.Evaluator.Recovery;

/// <summary>
/// LoRA adapters on every kept projection (q/k/v/o, gate/up/down) of a model, hooked in through the blocks'
/// <c>ProjectionDeltas</c>: the model's own modules and state dict stay untouched. Each adapter is sized to its
/// projection's active part (active heads / channels), so a full-size model with active shapes works as well as a
/// physically pruned one. <see cref="MergeAndDetach"/> folds scale·B·A into the weights (their active prefix),
/// leaving a plain model; disposing without merging detaches and leaves the weights as they were.
/// </summary>
public sealed class LoraAdapterSet : IDisposable
{
    public static readonly IReadOnlyList<string> TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    sealed record Entry(int Layer, string Name, Linear Projection, LoraAdapter Adapter);

    readonly List<Entry> entries = [];
    readonly List<LlamaAttention> attentions = [];
    readonly List<LlamaMlp> mlps = [];
    bool attached;
    // The adapters draw their dropout masks from this generator while training: the set owns it and disposes it last.
    Generator? generator;

    LoraAdapterSet() { }

    public IReadOnlyList<LoraAdapter> Adapters => entries.Select(e => e.Adapter).ToArray();
    public IReadOnlyList<Parameter> Parameters => entries.SelectMany(e => new[] { e.Adapter.A, e.Adapter.B }).ToArray();
    /// <summary>"layer.projection" of each adapter, in the order of <see cref="Adapters"/>.</summary>
    public IReadOnlyList<string> Names => entries.Select(e => $"{e.Layer}.{e.Name}").ToArray();

    /// <summary>Adapter dropout on or off.</summary>
    public bool Training
    {
        set { foreach (var e in entries) e.Adapter.Training = value; }
    }

    /// <summary>
    /// Attaches adapters of <paramref name="options"/>' rank and scale to every active attention and MLP block. The
    /// A matrices are drawn from <paramref name="options"/>' seed in layer order, then q, k, v, o, gate, up, down.
    /// </summary>
    public static LoraAdapterSet Attach(LlamaForCausalLM model, LoraOptions options)
    {
        options.Validate();
        var config = model.Config;
        var device = model.model.embed_tokens.weight!.device;
        var generator = new Generator((ulong)options.Seed);
        var set = new LoraAdapterSet { generator = generator };
        try
        {
            for (int l = 0; l < config.NumHiddenLayers; l++)
            {
                var layer = model.model.layers[l];
                if (!layer.Active) continue;
                if (layer.self_attn is { ActiveHeads: > 0 } attention)
                {
                    if (attention.ProjectionDeltas is not null) throw new InvalidOperationException($"layer {l}: attention already has projection deltas");
                    long q = (long)attention.ActiveHeads * config.HeadDim, kv = q / config.GroupSize, hidden = config.HiddenSize;
                    attention.ProjectionDeltas = new Dictionary<string, ProjectionDelta>
                    {
                        ["q_proj"] = set.Add(l, "q_proj", attention.q_proj, hidden, q, options, generator, device),
                        ["k_proj"] = set.Add(l, "k_proj", attention.k_proj, hidden, kv, options, generator, device),
                        ["v_proj"] = set.Add(l, "v_proj", attention.v_proj, hidden, kv, options, generator, device),
                        ["o_proj"] = set.Add(l, "o_proj", attention.o_proj, q, hidden, options, generator, device),
                    };
                    set.attentions.Add(attention);
                }
                if (layer.mlp is { ActiveChannels: > 0 } mlp)
                {
                    if (mlp.ProjectionDeltas is not null) throw new InvalidOperationException($"layer {l}: MLP already has projection deltas");
                    long channels = mlp.ActiveChannels, hidden = config.HiddenSize;
                    mlp.ProjectionDeltas = new Dictionary<string, ProjectionDelta>
                    {
                        ["gate_proj"] = set.Add(l, "gate_proj", mlp.gate_proj, hidden, channels, options, generator, device),
                        ["up_proj"] = set.Add(l, "up_proj", mlp.up_proj, hidden, channels, options, generator, device),
                        ["down_proj"] = set.Add(l, "down_proj", mlp.down_proj, channels, hidden, options, generator, device),
                    };
                    set.mlps.Add(mlp);
                }
            }
            set.attached = true;
            return set;
        }
        catch
        {
            set.attached = true;
            set.Dispose();
            throw;
        }
    }

    ProjectionDelta Add(int layer, string name, Linear projection, long inFeatures, long outFeatures,
        LoraOptions options, Generator generator, Device device)
    {
        var adapter = new LoraAdapter(inFeatures, outFeatures, options.Rank, options.Scale, options.Dropout, generator, device);
        entries.Add(new Entry(layer, name, projection, adapter));
        return adapter.Delta;
    }

    /// <summary>W[:out, :in] += scale·B·A for every adapter (rounded once to W's dtype), then detaches.</summary>
    public void MergeAndDetach()
    {
        if (!attached) throw new InvalidOperationException("the adapters are no longer attached");
        using (no_grad())
        {
            foreach (var e in entries)
            {
                using var scope = NewDisposeScope();
                var weight = e.Projection.weight!.narrow(0, 0, e.Adapter.OutFeatures).narrow(1, 0, e.Adapter.InFeatures);
                var merged = weight.to(ScalarType.Float32).Plus(e.Adapter.WeightDelta().to(weight.device));
                weight.copy_(merged.to(weight.dtype));
            }
        }
        Detach();
    }

    /// <summary>Removes the adapters from the model without changing its weights.</summary>
    public void Detach()
    {
        foreach (var a in attentions) a.ProjectionDeltas = null;
        foreach (var m in mlps) m.ProjectionDeltas = null;
        attached = false;
    }

    public void Dispose()
    {
        if (attached) Detach();
        foreach (var e in entries) e.Adapter.Dispose();
        entries.Clear();
        generator?.Dispose();
        generator = null;
    }
}
