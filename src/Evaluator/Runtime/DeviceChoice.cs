using NasPrune.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace NasPrune.Evaluator.Runtime;

/// <summary>Turns a --device / --dtype pair into TorchSharp values; the code elsewhere never assumes a device.</summary>
public static class DeviceChoice
{
    /// <summary>"cpu", "cuda", "cuda:N", or null/"auto" for CUDA when available, else CPU.</summary>
    public static Device Resolve(string? name)
    {
        string n = (name ?? "auto").Trim().ToLowerInvariant();
        if (n is "auto" or "") return cuda.is_available() ? CUDA : CPU;
        if (n == "cpu") return CPU;
        if (n.StartsWith("cuda"))
        {
            if (!cuda.is_available())
                throw new UserError($"--device {name}: CUDA is not available (this is the CPU build, or no GPU is visible); build with -p:TorchBackend=cuda on a GPU machine");
            return new Device(n);
        }
        throw new UserError($"--device {name}: expected cpu, cuda, cuda:N or auto");
    }

    /// <summary>float32 (default on CPU), bfloat16 (default on CUDA) or float16.</summary>
    public static ScalarType ResolveDtype(string? name, Device device) => (name ?? "auto").ToLowerInvariant() switch
    {
        "auto" or "" => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" => ScalarType.Float16,
        _ => throw new UserError($"--dtype {name}: expected float32, bfloat16, float16 or auto"),
    };
}
