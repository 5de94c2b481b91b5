using NasPrune.Common;
using NasPrune.Evaluator.Perplexity;
using NasPrune.Evaluator.Tokenization;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Importance;

/// <summary>
/// The token windows importance criteria run the model on: <see cref="CalibrationSettings.Sequences"/> windows of
/// <see cref="CalibrationSettings.SeqLen"/> tokens cut at seeded random, non-overlapping positions of a task's
/// validation split. Only the validation split is ever read: the test split stays unseen until final verification.
/// </summary>
public sealed class CalibrationData
{
    /// <summary>What was drawn (for raw windows: a description of them, task "raw").</summary>
    public CalibrationSettings Settings { get; }

    /// <summary>The windows, each <see cref="SeqLen"/> token ids long.</summary>
    public IReadOnlyList<long[]> Windows { get; }

    /// <summary>Where each window starts in the tokenized validation stream (empty for raw windows).</summary>
    public IReadOnlyList<int> Starts { get; }

    public int SeqLen => Windows[0].Length;

    /// <summary>Raw windows (tests, callers with their own text); they must all have the same length of at least 2.</summary>
    public CalibrationData(IReadOnlyList<long[]> windows, CalibrationSettings? settings = null)
        : this(windows, [], settings ?? new CalibrationSettings("raw", windows.Count, windows.Count > 0 ? windows[0].Length : 0, 0))
    {
    }

    CalibrationData(IReadOnlyList<long[]> windows, IReadOnlyList<int> starts, CalibrationSettings settings)
    {
        if (windows.Count == 0) throw new UserError("calibration data: no windows");
        int length = windows[0].Length;
        // A window predicts each token from the previous ones, so one token predicts nothing.
        if (length < 2) throw new UserError($"calibration data: windows of {length} tokens are too short (at least 2)");
        if (windows.Any(w => w.Length != length)) throw new UserError("calibration data: windows differ in length");
        Windows = windows;
        Starts = starts;
        Settings = settings;
    }

    /// <summary>
    /// Draws the windows from <paramref name="settings"/>.Task's validation split in <paramref name="dataDir"/>,
    /// tokenized with the model's tokenizer. SeqLen 0 means <paramref name="contextLength"/> (the model's context).
    /// </summary>
    public static CalibrationData Load(CalibrationSettings settings, string dataDir, TextTokenizer tokenizer, int contextLength)
    {
        var task = PerplexityTask.Get(settings.Task);
        var ids = tokenizer.Encode(task.LoadText(dataDir, Split.Validation));
        return FromTokens(ids, settings, contextLength, $"{task.Name} validation");
    }

    /// <summary>Draws the windows from an already tokenized stream (deterministic for the settings' seed).</summary>
    public static CalibrationData FromTokens(IReadOnlyList<int> ids, CalibrationSettings settings, int contextLength,
        string source = "calibration stream")
    {
        int seqLen = settings.SeqLen > 0 ? settings.SeqLen : contextLength;
        int count = settings.Sequences;
        if (count <= 0) throw new UserError($"calibration settings: sequences must be positive, got {count}");
        if (seqLen < 2) throw new UserError($"calibration settings: seq_len {seqLen} is too short (at least 2 tokens)");
        if (seqLen > contextLength)
            throw new UserError($"calibration settings: seq_len {seqLen} exceeds the model's context length (max_position_embeddings {contextLength})");
        if ((long)count * seqLen > ids.Count)
            throw new UserError($"{source}: {ids.Count} tokens are too few for {count} calibration windows of {seqLen} tokens; choose a shorter seq_len");

        var starts = DrawStarts(ids.Count, count, seqLen, settings.Seed);
        var windows = starts.Select(start =>
        {
            var row = new long[seqLen];
            for (int i = 0; i < seqLen; i++) row[i] = ids[start + i];
            return row;
        }).ToArray();
        return new CalibrationData(windows, starts, settings);
    }

    /// <summary>
    /// Uniformly random placement of <paramref name="count"/> non-overlapping windows: the tokens no window covers
    /// (the slack) are split into count+1 gaps by sorted uniform draws, so window i starts at gap_i + i·seqLen.
    /// System.Random with an explicit seed has a fixed algorithm, so the draw is the same on every machine.
    /// </summary>
    static int[] DrawStarts(int tokens, int count, int seqLen, long seed)
    {
        int slack = tokens - count * seqLen;
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        var offsets = Enumerable.Range(0, count).Select(_ => random.Next(slack + 1)).Order().ToArray();
        return offsets.Select((offset, i) => offset + i * seqLen).ToArray();
    }

    /// <summary>Windows [start, start+count) as a [count, seqLen] id tensor on <paramref name="device"/>.</summary>
    public Tensor Batch(int start, int count, Device device)
    {
        int seq = SeqLen;
        var flat = new long[count * seq];
        for (int b = 0; b < count; b++) Array.Copy(Windows[start + b], 0, flat, b * seq, seq);
        return tensor(flat, [count, seq]).to(device);
    }

    /// <summary>Number of predicted tokens over all windows (every position but the last predicts its successor).</summary>
    public long PredictedTokens => (long)Windows.Count * (SeqLen - 1);

    /// <summary>Throws a UserError when a token id is outside the model's vocabulary (a tokenizer that does not fit it).</summary>
    public void CheckVocabulary(int vocabSize)
    {
        foreach (var window in Windows)
            foreach (long id in window)
                if (id < 0 || id >= vocabSize)
                    throw new UserError($"calibration data ({Settings.Task}): token id {id} is outside the model's vocabulary of {vocabSize}");
    }
}
