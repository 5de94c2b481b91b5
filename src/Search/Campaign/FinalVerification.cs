using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Pruning;
using NasPrune.Evaluator.Recovery;
using NasPrune.Evaluator.Runtime;
using NasPrune.Evaluator.Export;

namespace NasPrune.Search.Campaign;

/// <summary>One row of results.json (docs/ARCHITECTURE.md), plus the recovery and architecture it was measured with.</summary>
public sealed record ResultRow(
    CampaignMethod Method, string Recovery, string? ArchId, long Params, double FlopsPerToken, double LatencyMs, double Wikitext2Ppl, double PtbPpl, double HeldoutPpl,
    double? BlimpAcc, double? MmluAcc, double? ZeroshotAvg, int RealEvaluations, double? ValidationNll, long WindowEvaluations = 0);

/// <summary>
/// The final verification: the first time test splits are read. Each method's architecture is extracted as a
/// smaller model (optionally recovered), then measured on WikiText-2, PTB and held-out general-English test perplexity (the last shows
/// overfitting to one domain), BLiMP (mean over its
/// paradigms), MMLU 5-shot and the zero-shot suite, and timed (one forward of a context-length window at batch 1).
/// The per-window and per-item values behind the figures go to a samples file (<see cref="FinalSamples"/>) for the
/// paired bootstrap intervals.
/// </summary>
public sealed class FinalVerification(PreparedModel prepared, FinalVerificationOptions options, string dataDir, IProgressReporter reporter)
{
    IReadOnlyList<BlimpParadigm>? blimp;
    IReadOnlyList<MmluSubject>? mmlu;
    IReadOnlyList<(TaskDefinition Task, IReadOnlyList<MultipleChoiceItem> Items)>? zeroShot;

    /// <summary>The row; its samples are saved to <paramref name="samplesPath"/> (atomically, before the caller saves the row).</summary>
    public ResultRow Measure(CampaignMethod method, Architecture? architecture, RecoveryPlan recovery, int realEvaluations, double? validationNll,
        string? exportDir, long windowEvaluations, string? samplesPath = null)
    {
        LlamaForCausalLM? extracted = null;
        try
        {
            if (architecture is not null) extracted = CandidatePipeline.ExtractAndRecover(prepared, architecture, recovery, reporter, method.Key());
            else prepared.Reset();
            var model = extracted ?? prepared.Model;
            if (exportDir is not null && extracted is not null)
                ModelExport.Write(prepared, extracted, architecture!, exportDir, ExportFormat.HuggingFace);
            var config = model.Config;
            int seq = prepared.SeqLen; // the campaign's seq_len, else the model's context
            var ppl = CandidatePipeline.Perplexities(prepared, model, Split.Test, options.MaxWindows, $"{method.Key()}/{recovery.Name}", reporter)
                .ToDictionary(p => p.Task);
            double wiki = ppl[PerplexityTask.WikiText2.Name].Ppl, ptb = ppl[PerplexityTask.Ptb.Name].Ppl, heldout = ppl[PerplexityTask.HeldOut.Name].Ppl;
            var scorer = new LogLikelihoodScorer(model, new RequestEncoder(prepared.Tokenizer, seq), 8, ScoringMode.Batched);
            double? blimpAcc = null, mmluAcc = null, zeroShotAvg = null;
            BlimpResult? blimpResult = null;
            MmluResult? mmluResult = null;
            List<MultipleChoiceResult>? zeroShotResults = null;
            if (options.BlimpLimit != 0)
            {
                string folder = BlimpDataset.Locate(dataDir);
                blimp ??= BlimpDataset.Load(folder, BlimpDataset.Resolve(folder, BlimpDataset.SuiteName).Paradigms, options.BlimpLimit);
                var sentences = new LogLikelihoodScorer(model, scorer.Encoder, BlimpEvaluator.RowsPerForward, ScoringMode.Batched);
                blimpResult = reporter.Track($"{method.Key()}/{recovery.Name} blimp", blimp.Sum(p => p.Pairs.Count),
                    progress => BlimpEvaluator.Evaluate(sentences, blimp, BlimpDataset.SuiteName, progress));
                blimpAcc = blimpResult.Acc;
            }
            if (options.MmluLimit != 0)
            {
                mmlu ??= MmluDataset.Load(MmluDataset.Locate(dataDir), 5, options.MmluLimit);
                mmluResult = reporter.Track($"{method.Key()}/{recovery.Name} mmlu", mmlu.Sum(s => s.Test.Count),
                    progress => MmluEvaluator.Evaluate(scorer, mmlu, 5, progress));
                mmluAcc = mmluResult.Acc;
            }
            if (options.ZeroshotLimit != 0)
            {
                zeroShot ??= ZeroShotTasks.Resolve(ZeroShotTasks.Locate(dataDir), ZeroShotTasks.SuiteName)
                    .Select(t => (t, t.LoadItems(options.ZeroshotLimit))).ToList();
                zeroShotResults = zeroShot.Select(z => reporter.Track($"{method.Key()}/{recovery.Name} {z.Task.Task}", z.Items.Count,
                    progress => MultipleChoiceEvaluator.Evaluate(scorer, z.Task, z.Items, progress))).ToList();
                zeroShotAvg = MultipleChoiceAverage.Of(zeroShotResults).Reported;
            }
            if (samplesPath is not null)
                FinalSamples.Of(method, recovery.Name, ppl.Values, blimpResult, mmluResult, zeroShotResults).Save(samplesPath);
            double latency = BestOfRepeats.ForwardSeconds(model, 1, seq, model.model.embed_tokens.weight!.device, 1.0) * 1000;
            return new ResultRow(method, recovery.Name, architecture?.Id, config.TotalParams, config.ForwardFlopsPerToken(seq), latency,
                wiki, ptb, heldout, blimpAcc, mmluAcc, zeroShotAvg, realEvaluations, validationNll, windowEvaluations);
        }
        finally
        {
            extracted?.Dispose();
        }
    }
}
