using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Importance;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Tokenization;
using NasPrune.Evaluator.Training;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Pruning;

/// <summary>
/// A base model made ready for pruning: loaded, scored by one importance criterion on validation calibration
/// text (cached next to the model), and reordered once so that every candidate keeps a prefix of each layer.
/// Candidates are then applied in place (<see cref="Apply"/>, views only) or extracted as smaller models.
/// Token streams of evaluation splits and of the recovery corpus are tokenized once and kept.
/// </summary>
public sealed class PreparedModel : IDisposable
{
    public string ModelDir { get; }
    public string DataDir { get; }
    public string ModelHash { get; }
    public LlamaForCausalLM Model { get; }
    public TextTokenizer Tokenizer { get; }
    public ImportanceScores Scores { get; }
    public CalibrationData Calibration { get; }
    public PruningSpace Space { get; }
    /// <summary>
    /// Window length of this preparation's calibration and perplexities: the calibration settings' SeqLen, or the
    /// model's context length when that is 0 (the default; a 32k-context model on a CPU asks for shorter windows).
    /// </summary>
    public int SeqLen => Calibration.SeqLen;
    readonly Dictionary<(string, Split), int[]> evaluationTokens = [];
    readonly Dictionary<string, int[]> corpusTokens = [];

    PreparedModel(string modelDir, string dataDir, string hash, LlamaForCausalLM model, TextTokenizer tokenizer,
        ImportanceScores scores, CalibrationData calibration, Granularity granularity)
    {
        ModelDir = modelDir;
        DataDir = dataDir;
        ModelHash = hash;
        Model = model;
        Tokenizer = tokenizer;
        Scores = scores;
        Calibration = calibration;
        Space = new PruningSpace(model.Config, hash, granularity);
    }

    public static PreparedModel Prepare(string modelDir, string dataDir, string criterionName, CalibrationSettings calibration,
        Device device, Granularity? granularity = null, Action<string>? log = null)
    {
        var criterion = ImportanceCriteria.Get(criterionName);
        string hash = HfCheckpoint.ModelHash(modelDir);
        var tokenizer = TokenizerLoader.Load(modelDir);
        var model = HfCheckpoint.LoadModel(modelDir, device);
        try
        {
            var data = CalibrationData.Load(calibration, dataDir, tokenizer, model.Config.MaxPositionEmbeddings);
            var scores = ImportanceCache.GetOrCompute(modelDir, hash, criterion, calibration, () =>
            {
                log?.Invoke($"computing {criterion.Name} importance on {calibration.Sequences} {calibration.Task} validation windows");
                return criterion.Score(model, data, hash);
            });
            var ordered = ImportanceOrder.Reorder(model, scores);
            return new PreparedModel(modelDir, dataDir, hash, model, tokenizer, ordered, data, granularity ?? new Granularity());
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Applies a candidate in place: each layer computes only its kept prefix (no copy).</summary>
    public void Apply(Architecture architecture)
    {
        CheckBase(architecture);
        Model.SetActiveShapes(architecture.ToShapes(Model.Config));
    }

    /// <summary>Back to the full (reordered, function-identical) base model.</summary>
    public void Reset() => Model.ResetActiveShapes();

    /// <summary>A physically smaller model holding the candidate's prefixes (what export writes).</summary>
    public LlamaForCausalLM Extract(Architecture architecture)
    {
        CheckBase(architecture);
        return PhysicalPruning.Extract(Model, architecture);
    }

    void CheckBase(Architecture architecture)
    {
        if (architecture.Base != ModelHash)
            throw new UserError($"architecture {architecture.Id} was made for base model {architecture.Base}, this model is {ModelHash}");
        architecture.Validate(Model.Config);
    }

    /// <summary>The token ids of an evaluation split (tokenized once per process).</summary>
    public int[] EvaluationTokens(PerplexityTask task, Split split)
    {
        if (!evaluationTokens.TryGetValue((task.Name, split), out var ids))
            evaluationTokens[(task.Name, split)] = ids = Tokenizer.Encode(task.LoadText(DataDir, split));
        return ids;
    }

    /// <summary>A training-text token stream for recovery (documents separated by the end-of-text token).</summary>
    public int[] CorpusTokens(string corpusDir)
    {
        if (!corpusTokens.TryGetValue(corpusDir, out var ids))
        {
            int eos = Tokenizer.EndOfTextId ?? throw new UserError($"{ModelDir}: the tokenizer has no end-of-text token to separate corpus documents");
            corpusTokens[corpusDir] = ids = TrainingCorpus.TokenStream(TrainingCorpus.Load(corpusDir).TrainTexts, Tokenizer.Encode, eos);
        }
        return ids;
    }

    /// <summary>Perplexity on one task of a model made from this base (the prepared one, in place, or an extracted one).</summary>
    public PerplexityResult Perplexity(LlamaForCausalLM model, PerplexityTask task, Split split, int? maxWindows = null,
        int batchSize = 8, IProgress<int>? progress = null) =>
        PerplexityEvaluator.Evaluate(model, EvaluationTokens(task, split), task.Name, split.ToString().ToLowerInvariant(),
            SeqLen, batchSize, maxWindows, progress) with
        {
            Tokenizer = Tokenizer.Description,
            ModelHash = ModelHash,
            Text = task.Description,
        };

    /// <summary>Windows a task's split yields at <see cref="SeqLen"/> (capped by <paramref name="maxWindows"/>).</summary>
    public int WindowCount(PerplexityTask task, Split split, int? maxWindows = null) =>
        Math.Min(EvaluationTokens(task, split).Length / SeqLen, maxWindows ?? int.MaxValue);

    public void Dispose() => Model.Dispose();
}
