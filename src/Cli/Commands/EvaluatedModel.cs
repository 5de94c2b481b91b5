using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Pruning;
using static TorchSharp.torch;

namespace NasPrune.Cli.Commands;

/// <summary>
/// The model an evaluation runs on: a checkpoint as stored, or, with <c>--arch</c>, a pruning candidate of it
/// applied in place (importance-reordered with <c>--criterion</c>, prefix views; no export needed). Its
/// <see cref="Identity"/> is the model hash, followed by "/" and the architecture id for a candidate.
/// </summary>
public sealed class EvaluatedModel : IDisposable
{
    readonly PreparedModel? prepared;
    public LlamaForCausalLM Model { get; }
    public string Identity { get; }

    EvaluatedModel(LlamaForCausalLM model, string identity, PreparedModel? prepared)
    {
        Model = model;
        Identity = identity;
        this.prepared = prepared;
    }

    public static EvaluatedModel Load(string modelDir, string dataDir, string? archFile, string criterion, long seed,
        Device device, ScalarType dtype)
    {
        if (archFile is null)
            return new EvaluatedModel(HfCheckpoint.LoadModel(modelDir, device, dtype), HfCheckpoint.ModelHash(modelDir), null);
        var architecture = Architecture.Load(archFile);
        var prepared = PreparedModel.Prepare(modelDir, dataDir, criterion, new CalibrationSettings(Seed: seed), device, log: Output.Log);
        try
        {
            prepared.Apply(architecture);
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
        return new EvaluatedModel(prepared.Model, $"{prepared.ModelHash}/{architecture.Id}", prepared);
    }

    public void Dispose()
    {
        if (prepared is not null) prepared.Dispose();
        else Model.Dispose();
    }
}
