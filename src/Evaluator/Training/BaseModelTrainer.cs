using System.Diagnostics;
using NasPrune.Common;
using TorchSharp;
using NasPrune.Evaluator.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Training;

/// <summary>Settings of a from-scratch pre-training run (defaults: the embedded model).</summary>
public sealed record TrainBaseOptions
{
    public int Layers { get; init; } = 8;
    public int Hidden { get; init; } = 256;
    public int Heads { get; init; } = 8;
    public int KvHeads { get; init; } = 8;
    public int Ffn { get; init; } = 688;
    public int VocabSize { get; init; } = 4096;
    public int SeqLen { get; init; } = 256;
    public int BatchSize { get; init; } = 16;
    public int Steps { get; init; } = 1000;
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>The cosine schedule decays to this fraction of the peak rate.</summary>
    public double MinLrRatio { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public int EvalEvery { get; init; } = 100;
    public int EvalWindows { get; init; } = 64;
    public long Seed { get; init; } = 1234;

    public ModelConfig ModelConfig(int eosId) => Common.ModelConfig.Uniform(VocabSize, Hidden, Layers, Heads, KvHeads, Ffn,
        maxPositions: SeqLen, tieEmbeddings: true) with { BosTokenId = eosId, EosTokenId = eosId };
}

/// <summary>One row of the training curve.</summary>
public sealed record TrainingPoint(int Step, long Tokens, double TrainLoss, double? ValidationLoss, double LearningRate, double Seconds);

/// <summary>
/// Pre-trains a small LLaMA-architecture model with AdamW and a warmup + cosine schedule on random windows of a
/// token stream. Deterministic for a seed on a given machine and thread count: weights, window positions and
/// the optimizer all draw from the seed.
/// </summary>
public sealed class BaseModelTrainer(TrainBaseOptions options)
{
    public TrainBaseOptions Options { get; } = options;

    public double LearningRateAt(int step)
    {
        var o = Options;
        if (step < o.WarmupSteps) return o.LearningRate * (step + 1) / o.WarmupSteps;
        double progress = (double)(step - o.WarmupSteps) / Math.Max(1, o.Steps - o.WarmupSteps);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress)));
        return o.LearningRate * (o.MinLrRatio + (1 - o.MinLrRatio) * cosine);
    }

    /// <summary>Trains on <paramref name="train"/> and reports held-out loss on windows of <paramref name="validation"/>.</summary>
    public LlamaForCausalLM Train(int[] train, int[] validation, int eosId, Device device,
        Action<TrainingPoint>? onPoint = null, IProgress<int>? progress = null)
    {
        var o = Options;
        if (train.Length < o.SeqLen + 1) throw new UserError($"training stream of {train.Length} tokens is shorter than one window of {o.SeqLen}");
        manual_seed(o.Seed);
        var model = new LlamaForCausalLM(o.ModelConfig(eosId));
        model.InitializeWeights(o.Seed);
        model.to(device);
        model.train();

        // Decay matrices only; norms and biases are not regularised (standard practice for transformers).
        var named = model.named_parameters().ToList();
        var decay = named.Where(p => p.parameter.dim() >= 2).Select(p => p.parameter).ToList();
        var noDecay = named.Where(p => p.parameter.dim() < 2).Select(p => p.parameter).ToList();
        using var optimizer = optim.AdamW(new[]
        {
            new AdamW.ParamGroup(decay, o.LearningRate, 0.9, 0.95, 1e-8, o.WeightDecay, false, false),
            new AdamW.ParamGroup(noDecay, o.LearningRate, 0.9, 0.95, 1e-8, 0.0, false, false),
        }, o.LearningRate);

        var validationWindows = Perplexity.PerplexityEvaluator.Windows(validation, o.SeqLen, o.EvalWindows);
        var random = new Random((int)o.Seed);
        var watch = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0;
        for (int step = 0; step < o.Steps; step++)
        {
            double lr = LearningRateAt(step);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            using (var scope = NewDisposeScope())
            {
                var input = tensor(RandomWindows.Batch(random, train, o.BatchSize, o.SeqLen), [o.BatchSize, o.SeqLen]).to(device);
                optimizer.zero_grad();
                var loss = model.NextTokenLoss(input);
                loss.backward();
                nn.utils.clip_grad_norm_(model.parameters(), o.GradClip);
                optimizer.step();
                lossSum += loss.item<float>();
                lossCount++;
            }
            progress?.Report(step + 1);
            bool last = step == o.Steps - 1;
            if ((step + 1) % o.EvalEvery == 0 || last)
            {
                double? validationLoss = null;
                if (validationWindows.Length > 0)
                {
                    model.eval();
                    var (nll, tokens) = Perplexity.PerplexityEvaluator.Score(model, validationWindows, o.BatchSize);
                    validationLoss = nll / tokens;
                    model.train();
                }
                onPoint?.Invoke(new TrainingPoint(step + 1, (long)(step + 1) * o.BatchSize * o.SeqLen,
                    lossSum / lossCount, validationLoss, lr, watch.Elapsed.TotalSeconds));
                lossSum = 0;
                lossCount = 0;
            }
        }
        model.eval();
        return model;
    }
}
