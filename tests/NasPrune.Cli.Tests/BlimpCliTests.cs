using System.Text.Json;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using NasPrune.Evaluator.Harness;
using NasPrune.Evaluator.Tokenization;
using Xunit;

namespace NasPrune.Tests;

/// <summary>BLiMP through the real program: the library's accuracy and its tie, and one-line errors (see <c>BlimpTests</c> for the rest).</summary>
public sealed class BlimpCliTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("nasprune-blimp-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static string Folder => BlimpDataset.Locate(DataDirectory.Resolve());

    [Fact]
    public void EvalBlimpParadigmThroughTheProgramReportsTheSameAccuracyAndItsTie()
    {
        string modelDir = TinyHarnessModel.Save(Path.Combine(dir, "model"));
        // principle_A_case_2's pair 105 has identical sentences: the first 106 pairs hold one sure tie.
        var r = CliProcess.Run("eval", "--model", modelDir, "--task", "blimp_principle_A_case_2", "--limit", "106", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(106, root.GetProperty("limit").GetInt32());
        var blimp = root.GetProperty("blimp");
        Assert.Equal("blimp_principle_A_case_2", blimp.GetProperty("task").GetString());
        Assert.Equal(106, blimp.GetProperty("n").GetInt32());
        Assert.Equal(1, blimp.GetProperty("ties").GetInt32());
        var paradigm = Assert.Single(blimp.GetProperty("paradigms").EnumerateArray().ToList());
        Assert.Equal("principle_A_case_2", paradigm.GetProperty("paradigm").GetString());
        Assert.Equal("syntax_semantics", paradigm.GetProperty("field").GetString());
        Assert.Equal("syntax_semantics", Assert.Single(blimp.GetProperty("fields").EnumerateArray().ToList()).GetProperty("field").GetString());

        // The program computed what the library computes on the same checkpoint.
        using var model = HfCheckpoint.LoadModel(modelDir);
        model.eval();
        var scorer = new LogLikelihoodScorer(model, new RequestEncoder(TokenizerLoader.Load(modelDir), 128), 8);
        var inProcess = BlimpEvaluator.Evaluate(scorer, BlimpDataset.Load(Folder, ["principle_A_case_2"], 106), "blimp_principle_A_case_2");
        Assert.Equal(inProcess.Acc, blimp.GetProperty("acc").GetDouble(), 12);
        Assert.Equal(inProcess.Acc, paradigm.GetProperty("acc").GetDouble(), 12);
    }

    [Fact]
    public void UnknownParadigmIsOneLineAndExitCode2()
    {
        CliTests.AssertOneLineUserError(CliProcess.Run("eval", "--task", "blimp_no_such_paradigm", "--limit", "3"),
            "unknown task 'blimp_no_such_paradigm': ");
        var shots = CliProcess.Run("eval", "--task", "blimp", "--shots", "5");
        CliTests.AssertOneLineUserError(shots, "--shots 5: BLiMP");
    }
}
