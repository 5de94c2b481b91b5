using System.Text.Json;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// The evaluation harness: prompts byte for byte, the scorer against an independent one-forward-per-continuation
/// computation on a tiny real model and tokenizer, truncation, shot dropping, and errors that name the line.
/// </summary>
public sealed class HarnessTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("nasprune-harness-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static Lazy<TextTokenizer> Tokenizer => TinyHarnessModel.Tokenizer;

    static LlamaForCausalLM TinyModel(int maxPositions = 512) => TinyHarnessModel.Create(maxPositions);

    static string DataDir => DataDirectory.Resolve();

    // ---------------------------------------------------------------- MMLU prompt

    static readonly MmluQuestion Shot1 = new("What is 2 + 2?", ["3", "4", "5", "22"], 1, "dev:1");
    static readonly MmluQuestion Shot2 = new("Which is a vector quantity?", ["mass", "speed", "velocity", "time, in seconds"], 2, "dev:2");
    static readonly MmluQuestion Asked = new("  A ball falls for 2 s from rest.\nHow far does it fall? ", ["9.8 m", "19.6 m", "4.9 m", "2 m"], 1, "test:1");

    [Fact]
    public void MmluPromptIsTheDocumentedFormatByteForByte()
    {
        string expected =
            "The following are multiple choice questions (with answers) about high school physics.\n\n" +
            "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer: B\n\n" +
            "Which is a vector quantity?\nA. mass\nB. speed\nC. velocity\nD. time, in seconds\nAnswer: C\n\n" +
            "A ball falls for 2 s from rest.\nHow far does it fall?\nA. 9.8 m\nB. 19.6 m\nC. 4.9 m\nD. 2 m\nAnswer:";
        Assert.Equal(expected, MmluPrompt.Build("high_school_physics", [Shot1, Shot2], 2, Asked));
        Assert.Equal(
            "The following are multiple choice questions (with answers) about high school physics.\n\n" +
            "A ball falls for 2 s from rest.\nHow far does it fall?\nA. 9.8 m\nB. 19.6 m\nC. 4.9 m\nD. 2 m\nAnswer:",
            MmluPrompt.Build("high_school_physics", [Shot1, Shot2], 0, Asked));
        Assert.Equal([" A", " B", " C", " D"], MmluPrompt.Continuations);
    }

    [Fact]
    public void MmluDropsShotsFromTheEndUntilThePromptFits()
    {
        var dev = new[] { Shot1, Shot2, Shot1 with { Source = "dev:3" }, Shot2 with { Source = "dev:4" }, Shot1 with { Source = "dev:5" } };
        var subject = new MmluSubject("high_school_physics", dev, [Asked]);
        // The model input for " A" is (prompt + " A") without its last token: find it for each shot count.
        var wide = new RequestEncoder(Tokenizer.Value, 10_000);
        int InputLength(int shots) => MmluPrompt.Continuations.Max(c =>
            wide.Encode(new LoglikelihoodRequest(MmluPrompt.Build(subject.Name, dev, shots, Asked), c)).Input.Length);
        int fitsTwo = InputLength(2);
        Assert.True(InputLength(3) > fitsTwo);

        var encoder = new RequestEncoder(Tokenizer.Value, fitsTwo);
        var fit = MmluEvaluator.FitPrompt(encoder, subject, Asked, shots: 5);
        Assert.Equal(2, fit.Shots);
        Assert.Equal(MmluPrompt.Build(subject.Name, dev, 2, Asked), fit.Prompt);
        Assert.Equal(5, MmluEvaluator.FitPrompt(new RequestEncoder(Tokenizer.Value, InputLength(5)), subject, Asked, 5).Shots);

        // Too short even for the bare question: no shots, and the scorer truncates the prompt's beginning.
        var tiny = new RequestEncoder(Tokenizer.Value, 8);
        Assert.Equal(0, MmluEvaluator.FitPrompt(tiny, subject, Asked, 5).Shots);

        using var model = TinyModel();
        var twice = subject with { Test = [Asked, Asked with { Source = "test:2" }] };
        var result = MmluEvaluator.Evaluate(new LogLikelihoodScorer(model, encoder), [twice], shots: 5);
        Assert.Equal(2, result.N);
        Assert.Equal(2, result.PromptsWithDroppedShots);
        Assert.Equal(6, result.DroppedShots);
        Assert.Equal(0, result.TruncatedPrompts);
        Assert.Equal(2, Assert.Single(result.Subjects).PromptsWithDroppedShots);
    }

    [Fact]
    public void MmluReadsQuotedFieldsAndScoresOneRowPerQuestion()
    {
        Directory.CreateDirectory(Path.Combine(dir, "dev"));
        Directory.CreateDirectory(Path.Combine(dir, "test"));
        File.WriteAllText(Path.Combine(dir, "dev", "logic_dev.csv"),
            "\"Statement 1 | a, b.\nStatement 2 | \"\"c\"\".\",\"True, True\",x,y,z,A\r\n" + string.Concat(Enumerable.Repeat("q,a,b,c,d,D\n", 4)));
        File.WriteAllText(Path.Combine(dir, "test", "logic_test.csv"), "Is it?,yes,no,maybe,never,C\nAnd this?,1,2,3,4,B\nThird?,1,2,3,4,A\n");
        var subjects = MmluDataset.Load(MmluDataset.Locate(dir), shots: 5, limit: 2);
        var s = Assert.Single(subjects);
        Assert.Equal("logic", s.Name);
        Assert.Equal("Statement 1 | a, b.\nStatement 2 | \"c\".", s.Dev[0].Question);
        Assert.Equal(["True, True", "x", "y", "z"], s.Dev[0].Choices);
        Assert.Equal(2, s.Test.Count);
        Assert.Equal(2, s.Test[0].Answer);

        // The four one-token-after-prompt continuations read one row: the prompt is computed once, and the result
        // equals one forward per continuation.
        using var model = TinyModel();
        var encoder = new RequestEncoder(Tokenizer.Value, 512);
        var (items, _) = MmluEvaluator.BuildItems(encoder, subjects, 5);
        var batched = new LogLikelihoodScorer(model, encoder).Score(items);
        var single = new LogLikelihoodScorer(model, encoder, mode: ScoringMode.OneForwardPerContinuation).Score(items);
        for (int i = 0; i < items.Count; i++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(single[i].LogLikelihoods[c], batched[i].LogLikelihoods[c], 4);
    }

    // ---------------------------------------------------------------- the scorer

    /// <summary>
    /// The harness's loglikelihood, written out independently: _encode_pair, keep the last maxLength + 1 tokens,
    /// one unpadded forward, full log-softmax, sum over the continuation.
    /// </summary>
    static double ReferenceLogLikelihood(LlamaForCausalLM model, TextTokenizer tok, string context, string continuation, int maxLength)
    {
        int spaces = context.Length - context.TrimEnd().Length;
        if (spaces > 0)
        {
            continuation = context[^spaces..] + continuation;
            context = context[..^spaces];
        }
        int[] ctx = tok.Encode(context);
        int[] cont = tok.Encode(context + continuation)[ctx.Length..];
        int[] full = [.. ctx, .. cont];
        int[] kept = full[Math.Max(0, full.Length - (maxLength + 1))..];
        long[] input = kept[..^1].Select(t => (long)t).ToArray();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logProbs = model.call(tensor(input, [1, input.Length])).to_type(ScalarType.Float64).log_softmax(-1);
        double sum = 0;
        for (int j = 0; j < cont.Length; j++)
            sum += logProbs[0, input.Length - cont.Length + j, cont[j]].item<double>();
        return sum;
    }

    [Fact]
    public void ScorerPicksTheChoiceWithTheHighestSummedLogProbabilityOnRealTasks()
    {
        const int maxLength = 128; // BoolQ's passages are longer: their contexts get truncated
        using var model = TinyModel(maxLength);
        int truncated = AssertScorerMatchesIndependentReference(model, Tokenizer.Value, maxLength, limit: 2);
        Assert.True(truncated > 0, "the BoolQ items should exercise truncation");
    }

    [Fact]
    public void EmbeddedModelScoresRealTasksAsTheIndependentReference()
    {
        // The real, trained embedded model and its own tokenizer on the first item of every shipped zero-shot task.
        string dir = DataDirectory.DefaultModel();
        using var model = HfCheckpoint.LoadModel(dir);
        AssertScorerMatchesIndependentReference(model, TokenizerLoader.Load(dir), model.Config.MaxPositionEmbeddings, limit: 1);
    }

    /// <summary>Batched and unbatched scores equal an independent per-continuation recomputation; returns truncations.</summary>
    static int AssertScorerMatchesIndependentReference(LlamaForCausalLM model, TextTokenizer tok, int maxLength, int limit)
    {
        var encoder = new RequestEncoder(tok, maxLength);
        var tasks = ZeroShotTasks.Discover(ZeroShotTasks.Locate(DataDir));
        var items = ZeroShotTasks.Suite.SelectMany(t => tasks[t].LoadItems(limit: limit)).ToList();

        var batched = new LogLikelihoodScorer(model, encoder, rowsPerForward: 5).Score(items);
        var single = new LogLikelihoodScorer(model, encoder, mode: ScoringMode.OneForwardPerContinuation).Score(items);
        int truncated = 0;
        for (int i = 0; i < items.Count; i++)
        {
            var reference = items[i].Requests.Select(r => ReferenceLogLikelihood(model, tok, r.Context, r.Continuation, maxLength)).ToArray();
            for (int c = 0; c < reference.Length; c++)
            {
                Assert.True(Math.Abs(reference[c] - batched[i].LogLikelihoods[c]) < 1e-4, $"{items[i].Source} choice {c}: {batched[i].LogLikelihoods[c]} vs {reference[c]}");
                Assert.True(Math.Abs(reference[c] - single[i].LogLikelihoods[c]) < 1e-4, $"{items[i].Source} choice {c} (unbatched)");
            }
            int best = Array.IndexOf(reference, reference.Max());
            Assert.Equal(best, batched[i].Prediction);
            Assert.Equal(best, single[i].Prediction);
            Assert.Equal(ChoiceMetrics.NormalizedPrediction(reference, items[i].Choices), batched[i].NormalizedPrediction);
            truncated += batched[i].TruncatedRequests;
        }
        return truncated;
    }

    [Fact]
    public void AccAndAccNormDisagreeWhenChoiceLengthsDiffer()
    {
        // Summed log-likelihood favours the short choice; per character the long one is more likely.
        double[] lls = [-10, -12];
        string[] choices = ["ab", "a much longer one"];
        Assert.Equal(0, ChoiceMetrics.Prediction(lls));
        Assert.Equal(1, ChoiceMetrics.NormalizedPrediction(lls, choices));
        // Length is Python's len(): code points, not UTF-16 units nor bytes (an emoji is one).
        Assert.Equal(3, ChoiceMetrics.CodePoints("é🙂x"));
        // -3 / 2 code points < -4 / 3: the second; by UTF-16 units (4) or bytes (8) it would be the first.
        Assert.Equal(1, ChoiceMetrics.NormalizedPrediction([-3.0, -4.0], ["🙂🙂", "abc"]));

        var task = TaskDefinition.ForJsonl(WriteFile("t.jsonl", """{"context": "c", "choices": ["ab", "a much longer one"], "gold": 1}"""));
        var item = Assert.Single(task.LoadItems());
        Assert.Equal(["ab", "a much longer one"], item.Choices);
        Assert.Equal(" ab", item.Requests[0].Continuation); // one space between context and choice, as the harness
    }

    [Fact]
    public void EncodingMovesTrailingSpacesToTheContinuationAndSplitsTheWholeString()
    {
        var tok = Tokenizer.Value;
        var encoder = new RequestEncoder(tok, 512);
        var (ctx, cont) = encoder.EncodePair("Question: is it?\nAnswer: ", "yes");
        Assert.Equal(tok.Encode("Question: is it?\nAnswer:"), ctx);
        Assert.Equal(tok.Encode("Question: is it?\nAnswer: yes")[ctx.Length..], cont);
        Assert.Equal(" yes", tok.Decode(cont));
        // An empty context is the end-of-text token, as the harness's prefix token.
        var (eot, _) = encoder.EncodePair("", " the");
        Assert.Equal([tok.EndOfTextId!.Value], eot);
    }

    [Fact]
    public void TruncationDropsTheContextsBeginningAndKeepsTheContinuationWhole()
    {
        var tok = Tokenizer.Value;
        string context = string.Concat(Enumerable.Repeat("The history of the city is long and varied. ", 20)) + "In the end";
        const string continuation = " the people were happy.";
        const int window = 24;
        var wide = new RequestEncoder(tok, 10_000).Encode(new LoglikelihoodRequest(context, continuation));
        var encoded = new RequestEncoder(tok, window).Encode(new LoglikelihoodRequest(context, continuation));
        Assert.InRange(wide.Continuation.Length, 4, window / 2);
        Assert.Equal(wide.Continuation, encoded.Continuation);
        Assert.Equal(window, encoded.Input.Length);
        Assert.Equal(wide.Input[^window..], encoded.Input);
        Assert.Equal(wide.Input.Length - window, encoded.DroppedContextTokens);
        Assert.Equal(0, encoded.DroppedContinuationTokens);
        Assert.Equal(encoded.Continuation[..^1], encoded.Input[^(encoded.Continuation.Length - 1)..]);

        using var model = TinyModel(window);
        var item = new MultipleChoiceItem("t:1", [new(context, continuation), new(context, " nothing.")], ["a", "b"], 0);
        var score = new LogLikelihoodScorer(model, new RequestEncoder(tok, window)).Score([item])[0];
        Assert.Equal(2, score.TruncatedRequests);
        Assert.Equal(0, score.TruncatedContinuations);
        Assert.True(Math.Abs(ReferenceLogLikelihood(model, tok, context, continuation, window) - score.LogLikelihoods[0]) < 1e-4);

        // A continuation longer than the whole window keeps its last tokens, all context gone, and says so.
        var cut = new RequestEncoder(tok, 3).Encode(new LoglikelihoodRequest(context, continuation));
        Assert.Equal(wide.Continuation[^3..], cut.Continuation);
        Assert.Equal(wide.Continuation[^4..^1], cut.Input);
        Assert.Equal(wide.Continuation.Length - 3, cut.DroppedContinuationTokens);
        Assert.True(cut.DroppedContextTokens > 0);
    }

    // ---------------------------------------------------------------- malformed input

    string WriteFile(string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void CsvHandlesQuotesCommasAndLineBreaksAsRfc4180()
    {
        var records = Rfc4180Csv.Parse("a,\"b, c\",\"d\"\"e\"\r\n\"multi\nline\",\"crlf\r\ninside\",\n\nlast,row", "x.csv");
        Assert.Equal(3, records.Count);
        Assert.Equal(["a", "b, c", "d\"e"], records[0].Fields);
        Assert.Equal(["multi\nline", "crlf\r\ninside", ""], records[1].Fields);
        Assert.Equal(2, records[1].Line);
        Assert.Equal(["last", "row"], records[2].Fields);
        Assert.Equal(6, records[2].Line);
    }

    [Theory]
    [InlineData("a,b\n\"never closed,c\nd\n", "x.csv:2:", "never closed")]
    [InlineData("a,b\nc,d\"e\n", "x.csv:2:", "quote inside an unquoted field")]
    [InlineData("\"a\"b,c\n", "x.csv:1:", "after the closing quote")]
    public void MalformedCsvNamesFileAndLine(string text, string where, string what)
    {
        var e = Assert.Throws<UserError>(() => Rfc4180Csv.Parse(text, "x.csv"));
        Assert.Contains(where, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Theory]
    [InlineData("\"q\nspans\",a,b,c,d,A\nq,a,b,c,D\n", ":3:", "5 fields")]
    [InlineData("q,a,b,c,d,A\nq,a,b,c,d,E\n", ":2:", "answer 'E'")]
    public void MalformedMmluRowsNameFileAndLine(string text, string where, string what)
    {
        string path = WriteFile("bad_test.csv", text);
        var e = Assert.Throws<UserError>(() => MmluDataset.ReadQuestions(path));
        Assert.Contains(path + where, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Theory]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{\"context\": \"c\", \"choices\": [\"a\"\n", ":2:", "malformed JSON")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n\n{\"context\": \"c\", \"gold\": 0}\n", ":3:", "'choices'")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n", ":1:", "out of range")]
    [InlineData("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": \"b\"}\n", ":1:", "not a choice index")]
    [InlineData("[1, 2]\n", ":1:", "JSON object")]
    public void MalformedJsonlRowsNameFileAndLine(string text, string where, string what)
    {
        string path = WriteFile("user.jsonl", text);
        var e = Assert.Throws<UserError>(() => TaskDefinition.ForJsonl(path).LoadItems());
        Assert.Contains(path + where, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void MalformedTaskDefinitionNamesTheField()
    {
        string path = WriteFile("task.json", """{"task": "t", "split": "s", "data": {"format": "jsonl", "file": "d.jsonl"}, "context": "{a", "choices": ["x"], "gold": {"field": "g"}, "metric": "acc"}""");
        var e = Assert.Throws<UserError>(() => TaskDefinition.Load(path));
        Assert.Contains("field context", e.Message);
        File.WriteAllText(path, """{"task": "t", "split": "s", "data": {"format": "csv", "file": "d"}, "context": "c", "choices": ["x"], "gold": {"field": "g"}, "metric": "acc"}""");
        Assert.Contains("data.format", Assert.Throws<UserError>(() => TaskDefinition.Load(path)).Message);
    }

    // ---------------------------------------------------------------- the shipped data and definitions

    [Fact]
    public void ShippedTasksLoadWithTheDocumentedCountsAndHarnessPrompts()
    {
        var tasks = ZeroShotTasks.Discover(ZeroShotTasks.Locate(DataDir));
        Assert.Equal(ZeroShotTasks.Suite.Order(), tasks.Keys.Order());
        var counts = new Dictionary<string, int>
        {
            ["boolq"] = 3270, ["piqa"] = 1838, ["hellaswag"] = 10042, ["winogrande"] = 1267,
            ["arc_easy"] = 2376, ["arc_challenge"] = 1172, ["openbookqa"] = 500,
        };
        var first = new Dictionary<string, MultipleChoiceItem>();
        foreach (var (name, count) in counts)
        {
            var items = tasks[name].LoadItems();
            Assert.Equal(count, items.Count);
            first[name] = items[0];
        }
        Assert.Equal(2033, tasks["boolq"].LoadItems().Count(i => i.Gold == 1));

        var boolq = first["boolq"];
        Assert.StartsWith("Ethanol fuel -- All biomass", boolq.Requests[0].Context);
        Assert.EndsWith("\nQuestion: does ethanol take more energy make that produces?\nAnswer:", boolq.Requests[0].Context);
        Assert.Equal([" no", " yes"], boolq.Requests.Select(r => r.Continuation));
        Assert.Equal(0, boolq.Gold);

        var piqa = first["piqa"];
        Assert.Equal("Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:", piqa.Requests[0].Context);
        Assert.StartsWith(" Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips", piqa.Requests[0].Continuation);
        Assert.Equal(0, piqa.Gold);

        var hellaswag = first["hellaswag"];
        Assert.Equal("Roof shingle removal: A man is sitting on a roof. he", hellaswag.Requests[0].Context);
        Assert.Equal(" is using wrap to wrap a pair of skis.", hellaswag.Requests[0].Continuation);
        Assert.Equal("starts pulling up roofing on a roof.", hellaswag.Choices[3]);
        Assert.Equal(3, hellaswag.Gold);

        var winogrande = first["winogrande"];
        Assert.Equal(["Sarah was a much better surgeon than Maria so Sarah", "Sarah was a much better surgeon than Maria so Maria"],
            winogrande.Requests.Select(r => r.Context));
        Assert.All(winogrande.Requests, r => Assert.Equal(" always got the easier cases.", r.Continuation));
        Assert.Equal(1, winogrande.Gold);

        var arc = first["arc_easy"];
        Assert.Equal("Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:", arc.Requests[0].Context);
        Assert.Equal(" Sunlight is the source of energy for nearly all ecosystems.", arc.Requests[0].Continuation);
        Assert.Equal(0, arc.Gold);

        var obqa = first["openbookqa"];
        Assert.StartsWith("A person wants to start saving money", obqa.Requests[0].Context);
        Assert.EndsWith("the best way to save money is to", obqa.Requests[0].Context);
        Assert.Equal(" quit eating lunch out", obqa.Requests[1].Continuation);
        Assert.Equal(1, obqa.Gold);

        // ARC rows with numeric labels ("1".."4") and 3 or 5 choices load too.
        Assert.Contains(tasks["arc_easy"].LoadItems(), i => i.Choices.Count == 5);
    }

    [Fact]
    public void ShippedMmluHas57SubjectsWithTheDocumentedCounts()
    {
        var subjects = MmluDataset.Load(MmluDataset.Locate(DataDir), shots: 5);
        Assert.Equal(57, subjects.Count);
        Assert.Equal(285, subjects.Sum(s => s.Dev.Count));
        Assert.Equal(14042, subjects.Sum(s => s.Test.Count));
        var answers = subjects.SelectMany(s => s.Test).GroupBy(q => q.AnswerLetter).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3222, answers["A"]);
        Assert.Equal(3776, answers["D"]);
        // The dev question with CRLF inside a quoted field keeps it.
        Assert.Contains(subjects.Single(s => s.Name == "college_mathematics").Dev, q => q.Question.Contains("\r\n"));
    }
}
