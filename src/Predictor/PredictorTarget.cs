using System.Text.Json;
using System.Text.Json.Serialization;
using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Predictor;

/// <summary>
/// What the predictor learns (lower is better for all):
/// <list type="bullet">
/// <item><c>nll</c>: the pair's WikiText-2 validation NLL (log-perplexity) on the calibration measure.</item>
/// <item><c>delta-uniform</c>: NLL minus the NLL of the uniform cut at the same parameter share. The uniform NLL
/// is interpolated piecewise-linearly over param_ratio through the pairs whose architecture is uniform (the
/// sampler's anchors: every layer keeps the same heads and channels), extrapolated linearly past the ends; the
/// reference points are stored in the card, so prediction needs no pairs.</item>
/// <item><c>kl</c>: the pair's mean per-token KL(dense ‖ candidate) on the same windows (wikitext2_kl; pairs sampled
/// with <c>--measure kl</c> or <c>both</c>).</item>
/// </list>
/// </summary>
[JsonConverter(typeof(PredictorTargetJsonConverter))]
public enum PredictorTarget { Nll, DeltaUniform, Kl }

/// <summary>The targets' names (as the command line, the config and the cards spell them) and what each measures.</summary>
public static class PredictorTargets
{
    public static readonly PredictorTarget[] All = Enum.GetValues<PredictorTarget>();

    public static string Name(this PredictorTarget target) => target switch
    {
        PredictorTarget.Nll => "nll",
        PredictorTarget.DeltaUniform => "delta-uniform",
        PredictorTarget.Kl => "kl",
        _ => throw new ArgumentOutOfRangeException(nameof(target), target, null),
    };

    public static string Names => string.Join(", ", All.Select(Name));

    /// <summary>The target a name denotes, or null when none does.</summary>
    public static PredictorTarget? Find(string? name) => All.Cast<PredictorTarget?>().FirstOrDefault(t => t!.Value.Name() == name);

    /// <summary>The target a name denotes; <paramref name="where"/> names the option or file field in the error.</summary>
    public static PredictorTarget Parse(string name, string where) =>
        Find(name) ?? throw new UserError($"{where}: '{name}' is not one of {Names}");

    /// <summary>The measured value a target starts from: wikitext2_kl for kl, wikitext2_nll otherwise.</summary>
    public static double Measured(PairRecord row, PredictorTarget target)
    {
        if (target != PredictorTarget.Kl) return row.WikiText2Nll;
        if (row.WikiText2Kl is not double kl || !double.IsFinite(kl))
            throw new UserError($"pair {row.ArchId}: no finite wikitext2_kl; target kl needs pairs sampled with --measure kl or both");
        return kl;
    }

    /// <summary>True when every layer is kept with the same share of heads and of FFN channels.</summary>
    public static bool IsUniform(Architecture a, ModelConfig config)
    {
        double? head = null, ffn = null;
        for (int i = 0; i < a.Layers.Count; i++)
        {
            var l = a.Layers[i];
            if (!l.Keep) return false;
            double h = a.HeadRatio(i, config), f = a.FfnRatio(i, config);
            head ??= h; ffn ??= f;
            if (Math.Abs(h - head.Value) > 1e-9 || Math.Abs(f - ffn.Value) > 1e-9) return false;
        }
        return true;
    }
}

/// <summary>The uniform cut's NLL as a function of the kept parameter share (piecewise linear through anchors).</summary>
public sealed record UniformReference(double[] ParamRatio, double[] Nll)
{
    public static UniformReference FromPairs(IReadOnlyList<(Architecture Arch, PairRecord Row)> pairs, ModelConfig config, string source)
    {
        var points = pairs.Where(p => PredictorTargets.IsUniform(p.Arch, config))
            .GroupBy(p => p.Row.ParamRatio)
            .Select(g => (Ratio: g.Key, Nll: g.Average(p => p.Row.WikiText2Nll)))
            .OrderBy(p => p.Ratio).ToArray();
        if (points.Length == 0)
            throw new UserError($"{source}: target delta-uniform needs pairs of uniform architectures (the sampler's anchors); none found");
        return new UniformReference(points.Select(p => p.Ratio).ToArray(), points.Select(p => p.Nll).ToArray());
    }

    public double At(double paramRatio)
    {
        if (ParamRatio.Length == 1) return Nll[0];
        int hi = 1;
        while (hi < ParamRatio.Length - 1 && ParamRatio[hi] < paramRatio) hi++;
        int lo = hi - 1;
        double t = (paramRatio - ParamRatio[lo]) / (ParamRatio[hi] - ParamRatio[lo]);
        return Nll[lo] + t * (Nll[hi] - Nll[lo]);
    }
}

/// <summary>
/// Reads and writes a target by its name ("delta-uniform"), whatever enum naming the surrounding serializer uses, so
/// cards and campaign.json files written when targets were strings still read, and new ones read the same.
/// </summary>
public sealed class PredictorTargetJsonConverter : JsonConverter<PredictorTarget>
{
    public override PredictorTarget Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return PredictorTargets.Find(name) ?? throw new JsonException($"predictor target '{name}' is not one of {PredictorTargets.Names}");
    }

    public override void Write(Utf8JsonWriter writer, PredictorTarget value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Name());
}
