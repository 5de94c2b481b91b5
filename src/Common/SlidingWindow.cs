using System.Text.Json.Nodes;
using static NasPrune.Common.ConfigFields;

namespace NasPrune.Common;

/// <summary>
/// Sliding-window attention as Hugging Face's Mistral and Qwen2 configure it: in layers from
/// <paramref name="FirstLayer"/> on, the token at position i attends to position j only when 0 ≤ i − j &lt; Size
/// (masking_utils.sliding_window_overlay: kv_idx &gt; q_idx − sliding_window). A window at least as long as the
/// sequence is plain causal attention.
/// </summary>
public sealed record SlidingWindow(int Size, int FirstLayer)
{
    // MistralConfig, Qwen2Config and Qwen3Config default sliding_window to 4096 when the key is absent; JSON null turns it off.
    const int HuggingFaceDefaultSize = 4096;
    const int Qwen2DefaultMaxWindowLayers = 28;

    /// <summary>The window of a config.json, or null where every layer attends to the whole causal prefix.</summary>
    public static SlidingWindow? Read(JsonObject j, string modelType, int layers, string source)
    {
        switch (modelType)
        {
            case "mistral":
                // MistralModel ignores layer_types (it warns and uses the window in every layer).
                return ReadSize(j, source) is int w ? new SlidingWindow(w, 0) : null;
            case "phi3":
                // Phi3Config defaults sliding_window to None; when set, every layer slides (Phi-3-mini-4k: 2047).
                return j["sliding_window"] is not null && Int(j, "sliding_window", source, min: 1) is int pw ? new SlidingWindow(pw, 0) : null;
            case "qwen2" or "qwen3":
                // Qwen2Config: sliding_window = sliding_window if use_sliding_window else None; layers from
                // max_window_layers on slide, unless layer_types lists each layer's kind.
                if (Bool(j, "use_sliding_window", source) != true || ReadSize(j, source) is not int size) return null;
                int first = j["layer_types"] is not null
                    ? FirstSlidingLayer(j, layers, source)
                    : Int(j, "max_window_layers", source, min: 0) ?? Qwen2DefaultMaxWindowLayers;
                return first < layers ? new SlidingWindow(size, first) : null;
            default:
                return null; // LlamaModel has no sliding window: a stray sliding_window key changes nothing there
        }
    }

    static int? ReadSize(JsonObject j, string source) =>
        j.ContainsKey("sliding_window") ? Int(j, "sliding_window", source, min: 1) : HuggingFaceDefaultSize;

    /// <summary>layer_types must be full attention up to some layer and sliding from there on: the only pattern NasPrune stores.</summary>
    static int FirstSlidingLayer(JsonObject j, int layers, string source)
    {
        var types = j["layer_types"] as JsonArray ?? throw Invalid(source, "layer_types", "a list", j["layer_types"]);
        var names = types.Select(t => t is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).ToList();
        if (names.Count != layers || names.Any(n => n is not ("full_attention" or "sliding_attention")))
            throw Invalid(source, "layer_types", $"{layers} entries of \"full_attention\" or \"sliding_attention\"", types);
        int first = names.IndexOf("sliding_attention") is int k and >= 0 ? k : layers;
        if (names.Skip(first).Any(n => n != "sliding_attention"))
            throw new UserError($"{source}: field 'layer_types' alternates full and sliding attention, which NasPrune does not compute");
        return first;
    }

    /// <summary>Writes the window (or its absence) so that Hugging Face reads back the same attention.</summary>
    public static void Write(JsonObject j, string modelType, SlidingWindow? window)
    {
        if (modelType is "mistral" or "phi3")
            j["sliding_window"] = window?.Size; // explicit null: an absent key would mean 4096 to Hugging Face's Mistral
        else if (modelType is "qwen2" or "qwen3")
        {
            j["use_sliding_window"] = window is not null;
            if (window is null) return;
            j["sliding_window"] = window.Size;
            j["max_window_layers"] = window.FirstLayer;
        }
    }
}
