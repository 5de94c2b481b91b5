using Xunit;

namespace NasPrune.Tests;

/// <summary><c>nasprune generate</c> through the real program (see <c>GenerateTests</c> for decoding and sampling).</summary>
public sealed class GenerateCliTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>
{
    [Fact]
    public void AFixedSeedFixesTheText()
    {
        string[] Args(string seed) => ["generate", "--model", tiny.Dir, "--prompt", "The jury said", "--max-new-tokens", "12",
            "--temperature", "1.0", "--top-p", "0.95", "--seed", seed, "--json"];
        var first = CliProcess.Run(Args("7"));
        Assert.True(first.ExitCode == 0, first.Stderr);
        var again = CliProcess.Run(Args("7"));
        var other = CliProcess.Run(Args("8"));
        static string Text(CliProcess.Result r) => System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.GetProperty("text").GetString()!;
        Assert.Equal(Text(first), Text(again));
        Assert.NotEqual(Text(first), Text(other));
    }

    [Fact]
    public void StreamedTextIsThePromptAndTheDecodedTokens()
    {
        var streamed = CliProcess.Run("generate", "--model", tiny.Dir, "--prompt", "The jury said", "--max-new-tokens", "10", "--temperature", "0");
        Assert.True(streamed.ExitCode == 0, streamed.Stderr);
        var json = CliProcess.Run("generate", "--model", tiny.Dir, "--prompt", "The jury said", "--max-new-tokens", "10", "--temperature", "0", "--json");
        string text = System.Text.Json.JsonDocument.Parse(json.Stdout).RootElement.GetProperty("text").GetString()!;
        Assert.Equal("The jury said" + text + "\n", streamed.Stdout);
    }

    [Theory]
    [InlineData("--max-new-tokens", "0", "--max-new-tokens 0")]
    [InlineData("--temperature", "-1", "--temperature -1")]
    [InlineData("--top-p", "1.5", "--top-p 1.5")]
    [InlineData("--prompt-file", "/nonexistent/prompt.txt", "exactly one of")]
    [InlineData("--max-new-tokens", "100", "exceeds the model's context of 32")]
    public void BadArgumentsAreUsageErrors(string option, string value, string message)
    {
        var r = CliProcess.Run("generate", "--model", tiny.Dir, "--prompt", "The jury", option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
    }
}
