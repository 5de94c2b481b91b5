using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NasPrune.Search.Campaign;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Model;
using NasPrune.Evaluator.Tokenization;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

/// <summary>
/// BLiMP: the shipped data against the release, the scorer against an independent per-sentence forward pass
/// (ties counted wrong), and errors that name the file and line; the command line is BlimpCliTests'.
/// </summary>
public sealed class BlimpTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("nasprune-blimp-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static string Folder => BlimpDataset.Locate(DataDirectory.Resolve());

    // ---------------------------------------------------------------- data

    [Fact]
    public void ShippedDataIsTheUpstreamReleaseByteForByte()
    {
        // sha256 of the 67 release files concatenated in C-locale name order (data/eval/blimp/README.md).
        var files = Directory.GetFiles(Folder, "*.jsonl.gz").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(67, files.Count);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        foreach (string file in files)
        {
            using var gz = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
            using var raw = new MemoryStream();
            gz.CopyTo(raw);
            sha.AppendData(raw.ToArray());
            bytes += raw.Length;
        }
        Assert.Equal(29_576_684, bytes);
        Assert.Equal("93e7675caabd9d0d81e7145ab25f59ae8a2528fb69c5394e6e52707b427c3397", Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    [Fact]
    public void LoadingGives67ParadigmsOf1000PairsInFourFields()
    {
        var (task, names) = BlimpDataset.Resolve(Folder, BlimpDataset.SuiteName);
        Assert.Equal("blimp", task);
        var paradigms = BlimpDataset.Load(Folder, names);
        Assert.Equal(67, paradigms.Count);
        Assert.All(paradigms, p =>
        {
            Assert.Equal(1000, p.Pairs.Count);
            Assert.Equal(Enumerable.Range(0, 1000).Select(i => i.ToString()), p.Pairs.Select(q => q.PairId));
        });
        // The release's fields; principle_A_case_2's "syntax/semantics" joins the other binding paradigms.
        var fields = paradigms.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["morphology"] = 18, ["semantics"] = 9, ["syntax"] = 26, ["syntax_semantics"] = 14 }, fields);
        Assert.Equal("syntax_semantics", paradigms.Single(p => p.Name == "principle_A_case_2").Field);
        Assert.Equal("island_effects", paradigms.Single(p => p.Name == "adjunct_island").LinguisticsTerm);
        // The seven pairs whose sentences are identical (the README's quirk): every model ties on them.
        var same = paradigms.SelectMany(p => p.Pairs.Where(q => q.Good == q.Bad).Select(q => $"{p.Name}/{q.PairId}")).ToList();
        Assert.Equal(["passive_1/324", "passive_1/810", "principle_A_case_2/105", "principle_A_case_2/287", "principle_A_case_2/372",
            "principle_A_case_2/816", "principle_A_case_2/967"], same);

        var first = BlimpDataset.Load(Folder, ["adjunct_island"], limit: 2).Single();
        Assert.Equal("Who should Derek hug after shocking Richard?", first.Pairs[0].Good);
        Assert.Equal("Who should Derek hug Richard after shocking?", first.Pairs[0].Bad);
        Assert.Equal(2, first.Pairs.Count);
        Assert.EndsWith("adjunct_island.jsonl.gz:1", first.Pairs[0].Source);
    }

    [Fact]
    public void ParadigmNamesMatchIgnoringCaseAndUnknownOnesListTheKnown()
    {
        // The command line lower-cases --task; the harness's name keeps the UID's capitals.
        var (task, paradigms) = BlimpDataset.Resolve(Folder, "blimp_principle_a_case_2");
        Assert.Equal("blimp_principle_A_case_2", task);
        Assert.Equal(["principle_A_case_2"], paradigms);
        var e = Assert.Throws<UserError>(() => BlimpDataset.Resolve(Folder, "blimp_adjunct_isle"));
        Assert.Contains("no BLiMP paradigm 'adjunct_isle'", e.Message);
        Assert.Contains("wh_vs_that_with_gap_long_distance", e.Message);
    }

    string WriteGzip(string name, string text)
    {
        string path = Path.Combine(dir, name);
        using var gz = new GZipStream(File.Create(path), CompressionLevel.Optimal);
        gz.Write(Encoding.UTF8.GetBytes(text));
        return path;
    }

    static string Pair(string uid, string good, string bad, string field = "syntax") => JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["sentence_good"] = good, ["sentence_bad"] = bad, ["field"] = field, ["linguistics_term"] = "t", ["UID"] = uid, ["pairID"] = "0",
    }) + "\n";

    [Fact]
    public void MalformedPairsNameTheFileLineAndField()
    {
        string missing = WriteGzip("mine.jsonl.gz", Pair("mine", "A cat sat.", "A cat sat cat.") + """{"sentence_good": "x", "field": "syntax", "UID": "mine", "pairID": "1"}""" + "\n");
        var e = Assert.Throws<UserError>(() => BlimpDataset.LoadParadigm(missing));
        Assert.Contains("mine.jsonl.gz:2", e.Message);
        Assert.Contains("sentence_bad", e.Message);

        string other = WriteGzip("theirs.jsonl.gz", Pair("mine", "A cat sat.", "A cat sat cat."));
        Assert.Contains("field 'UID' is 'mine', but the file is paradigm 'theirs'", Assert.Throws<UserError>(() => BlimpDataset.LoadParadigm(other)).Message);

        string mixed = WriteGzip("mixed.jsonl.gz", Pair("mixed", "a", "b") + Pair("mixed", "c", "d", field: "semantics"));
        Assert.Contains("mixed.jsonl.gz:2: field 'field' is 'semantics'", Assert.Throws<UserError>(() => BlimpDataset.LoadParadigm(mixed)).Message);

        string corrupt = Path.Combine(dir, "corrupt.jsonl.gz");
        File.WriteAllBytes(corrupt, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
        Assert.Contains("corrupt.jsonl.gz: not a readable gzip file", Assert.Throws<UserError>(() => BlimpDataset.LoadParadigm(corrupt)).Message);

        File.WriteAllText(Path.Combine(dir, "mine.jsonl"), Pair("mine", "a", "b"));
        Assert.Contains("paradigm 'mine' is there twice", Assert.Throws<UserError>(() => BlimpDataset.Files(dir)).Message);
    }

    // ---------------------------------------------------------------- scoring

    /// <summary>
    /// A sentence's log-likelihood written out independently of the scorer: the end-of-text token then the tokens
    /// of " " + sentence, one unpadded forward of the whole model, full log-softmax, the sum over every real token.
    /// </summary>
    static double SentenceLogLikelihood(LlamaForCausalLM model, TextTokenizer tok, string sentence)
    {
        long[] ids = [tok.EndOfTextId!.Value, .. tok.Encode(" " + sentence).Select(t => (long)t)];
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logProbs = model.call(tensor(ids[..^1], [1, ids.Length - 1])).to_type(ScalarType.Float64).log_softmax(-1);
        double sum = 0;
        for (int t = 1; t < ids.Length; t++) sum += logProbs[0, t - 1, ids[t]].item<double>();
        return sum;
    }

    [Fact]
    public void ScorerMatchesAnIndependentPerSentenceForwardAndCountsATieAsWrong()
    {
        var tok = TinyHarnessModel.Tokenizer.Value;
        using var model = TinyHarnessModel.Create(128);
        var real = BlimpDataset.Load(Folder, ["anaphor_gender_agreement", "determiner_noun_agreement_1", "passive_1"], limit: 5);
        // Constructed: a tie (the release has seven) and one pair both ways round. Exactly one of the two orders is
        // right, the tie is wrong: 1/3 whatever the model, 2/3 if a tie counted as right.
        const string a = "The cat sat on the mat.", b = "The cat sat the on mat.";
        var constructed = new BlimpParadigm("constructed", "syntax", "t",
            [new BlimpPair("0", a, a, "c:1"), new BlimpPair("1", a, b, "c:2"), new BlimpPair("2", b, a, "c:3")]);
        var paradigms = real.Append(constructed).ToList();

        var encoder = new RequestEncoder(tok, 128);
        Assert.Equal(tok.EndOfTextId, encoder.Encode(BlimpEvaluator.Item(constructed.Pairs[0]).Requests[0]).Input[0]);
        // Three rows per forward: batches cross pairs and paradigms; unbatched is one forward per sentence.
        var results = new[]
        {
            BlimpEvaluator.Evaluate(new LogLikelihoodScorer(model, encoder, rowsPerForward: 3), paradigms, "blimp"),
            BlimpEvaluator.Evaluate(new LogLikelihoodScorer(model, encoder, mode: ScoringMode.OneForwardPerContinuation), paradigms, "blimp"),
            BlimpEvaluator.Evaluate(new LogLikelihoodScorer(model, encoder, BlimpEvaluator.RowsPerForward), paradigms, "blimp"),
        };
        var scored = new LogLikelihoodScorer(model, encoder, rowsPerForward: 3).Score(paradigms.SelectMany(p => p.Pairs.Select(BlimpEvaluator.Item)).ToList());

        var expected = new List<double>();
        int at = 0;
        foreach (var paradigm in paradigms)
        {
            int right = 0;
            foreach (var pair in paradigm.Pairs)
            {
                double good = SentenceLogLikelihood(model, tok, pair.Good), bad = SentenceLogLikelihood(model, tok, pair.Bad);
                Assert.True(Math.Abs(good - scored[at].LogLikelihoods[0]) < 1e-4, $"{pair.Source} good: {scored[at].LogLikelihoods[0]} vs {good}");
                Assert.True(Math.Abs(bad - scored[at].LogLikelihoods[1]) < 1e-4, $"{pair.Source} bad: {scored[at].LogLikelihoods[1]} vs {bad}");
                if (pair.Good != pair.Bad) Assert.True(Math.Abs(good - bad) > 1e-3, $"{pair.Source}: a near tie would make the check fragile");
                if (good > bad && pair.Good != pair.Bad) right++;
                at++;
            }
            expected.Add(right / (double)paradigm.Pairs.Count);
        }
        Assert.Equal(1.0 / 3, expected[^1], 12);
        foreach (var result in results)
        {
            Assert.Equal(paradigms.Select(p => p.Name), result.Paradigms.Select(p => p.Paradigm));
            for (int i = 0; i < paradigms.Count; i++) Assert.Equal(expected[i], result.Paradigms[i].Acc, 12);
            Assert.Equal(1, result.Ties);
            Assert.Equal([0, 0, 0, 1], result.Paradigms.Select(p => p.Ties));
            Assert.Equal(18, result.N);
            Assert.Equal(expected.Average(), result.Acc, 12);
            // Fields: the mean of their paradigms (not of their pairs).
            var syntax = result.Fields.Single(f => f.Field == "syntax");
            Assert.Equal(paradigms.Where(p => p.Field == "syntax").Select(p => expected[paradigms.IndexOf(p)]).Average(), syntax.Acc, 12);
            Assert.Equal(paradigms.Count(p => p.Field == "syntax"), syntax.Paradigms);
            Assert.Equal(0, result.TruncatedPairs);
        }
    }

    [Fact]
    public void FinalVerificationScoresOneHundredPairsPerParadigmUnlessConfigured()
    {
        Assert.Equal(100, new CampaignConfig().Final.BlimpLimit);
        string path = Path.Combine(dir, "c.yaml");
        File.WriteAllText(path, "final:\n  blimp_limit: -1\n");
        Assert.Contains("final.blimp_limit", Assert.Throws<UserError>(() => CampaignConfig.Load(path)).Message);
        File.WriteAllText(path, "final:\n  blimp_limit: 0\n");
        Assert.Equal(0, CampaignConfig.Load(path).Final.BlimpLimit);
    }
}
