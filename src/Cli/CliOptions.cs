using System.CommandLine;

namespace NasPrune.Cli;

/// <summary>Options every command shares (see docs/ARCHITECTURE.md: --seed, --device, --json, --data).</summary>
public static class CliOptions
{
    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda, cuda:N or auto (cuda when available)",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<string> Dtype() => new("--dtype")
    {
        Description = "float32, bfloat16, float16 or auto (float32 on CPU, bfloat16 on CUDA)",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<long> Seed(long defaultSeed = 1234) => new("--seed")
    {
        Description = "random seed (all sampling is deterministic for a seed)",
        DefaultValueFactory = _ => defaultSeed,
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "print one JSON object on stdout (progress and logs go to stderr)",
    };

    public static Option<string?> Data() => new("--data")
    {
        Description = "NasPrune's data folder (default: $NASPRUNE_DATA, else the repository's data/)",
    };

    /// <summary>The importance criterion that orders heads and channels (default activation); <paramref name="purpose"/> starts the help text.</summary>
    public static Option<string> Criterion(string purpose = "importance criterion") => new("--criterion")
    {
        Description = $"{purpose} ({string.Join(", ", Evaluator.Importance.ImportanceCriteria.Names)})",
        DefaultValueFactory = _ => "activation",
    };

    /// <summary>Window length of calibration (importance) and of the perplexities a command measures; 0 = the model's context length.</summary>
    public static Option<int> SeqLen() => new("--seq-len")
    {
        Description = "window length of calibration and perplexity windows (default 0: the model's context length, e.g. 32,768 for Qwen2.5)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<string?> Model() => new("--model")
    {
        Description = "Hugging Face model directory (default: the embedded model data/models/nasprune-tiny-llama)",
    };
}
