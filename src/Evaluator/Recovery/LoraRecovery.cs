using NasPrune.Common;
using NasPrune.Evaluator.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Recovery;

/// <summary>One row of the LoRA training curve: the step (1-based), its batch's mean next-token loss and its learning rate.</summary>
public sealed record LoraPoint(int Step, double Loss, double LearningRate);

/// <summary>
/// LLM-Pruner's recovery stage: LoRA fine-tuning of the pruned model with its weights frozen, on seeded random
/// windows of a training token stream (as <see cref="Training.BaseModelTrainer"/> draws them), then the adapters
/// merged into the weights. The model is changed in place and stays a plain <see cref="LlamaForCausalLM"/> with
/// the same parameters, so it saves as a normal checkpoint. Works on a physically pruned model and on a
/// full-size one with active shapes (only the active prefix of each weight changes).
/// </summary>
public static class LoraRecovery
{
    /// <summary>
    /// Trains adapters for <see cref="LoraOptions.Steps"/> steps on <paramref name="tokens"/> (e.g. a
    /// <see cref="Training.TrainingCorpus"/> stream; never evaluation data), merges them and returns the curve.
    /// Reports progress in steps done. On an exception the adapters are dropped and the weights left as they were.
    /// </summary>
    public static IReadOnlyList<LoraPoint> Run(LlamaForCausalLM model, int[] tokens, LoraOptions? options = null,
        IProgress<int>? progress = null)
    {
        options ??= new LoraOptions();
        options.Validate();
        if (options.SeqLen > model.Config.MaxPositionEmbeddings)
            throw new UserError($"LoRA option SeqLen = {options.SeqLen}: exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}");
        if (options.Steps > 0 && tokens.Length < options.SeqLen + 1)
            throw new UserError($"LoRA training stream of {tokens.Length} tokens is shorter than one window of {options.SeqLen}");
        int vocab = model.Config.VocabSize;
        if (tokens.Any(t => t < 0 || t >= vocab))
            throw new UserError($"LoRA training stream has token ids outside the model's vocabulary of {vocab}");

        // Base weights are frozen for the run (no gradients are computed or stored for them), then restored.
        var parameters = model.parameters().ToList();
        var requiredGrad = parameters.Select(p => p.requires_grad).ToList();
        bool wasTraining = model.training;
        using var adapters = LoraAdapterSet.Attach(model, options);
        try
        {
            foreach (var p in parameters) p.requires_grad = false;
            var curve = Train(model, adapters, tokens, options, progress);
            adapters.MergeAndDetach();
            return curve;
        }
        finally
        {
            for (int i = 0; i < parameters.Count; i++) parameters[i].requires_grad = requiredGrad[i];
            model.train(wasTraining);
        }
    }

    static List<LoraPoint> Train(LlamaForCausalLM model, LoraAdapterSet adapters, int[] tokens, LoraOptions o,
        IProgress<int>? progress)
    {
        var curve = new List<LoraPoint>();
        if (o.Steps == 0) return curve;
        var device = model.model.embed_tokens.weight!.device;
        var trainable = adapters.Parameters;
        // Hugging Face's "adamw_torch": AdamW with betas (0.9, 0.999) and eps 1e-8.
        using var optimizer = optim.AdamW(trainable, o.LearningRate, 0.9, 0.999, 1e-8, o.WeightDecay);
        var random = new Random((int)o.Seed);
        model.train();
        adapters.Training = true;
        try
        {
            for (int step = 0; step < o.Steps; step++)
            {
                double lr = o.LearningRateAt(step);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                using var scope = NewDisposeScope();
                var input = tensor(Training.RandomWindows.Batch(random, tokens, o.BatchSize, o.SeqLen), [o.BatchSize, o.SeqLen]).to(device);
                optimizer.zero_grad();
                var loss = model.NextTokenLoss(input);
                loss.backward();
                if (o.GradClip > 0) nn.utils.clip_grad_norm_(trainable, o.GradClip);
                optimizer.step();
                curve.Add(new LoraPoint(step + 1, loss.item<float>(), lr));
                progress?.Report(step + 1);
            }
        }
        finally
        {
            adapters.Training = false;
            model.eval();
        }
        return curve;
    }
}
