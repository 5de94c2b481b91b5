using System.Text.Json.Nodes;

namespace NasPrune.Common;

/// <summary>
/// config.json fields of Hugging Face decoder families that change the computation and that NasPrune does not
/// compute. A checkpoint carrying one with an effective value is refused (one line naming the field) rather
/// than evaluated as a different model. A field at its neutral value (null, false, 0 experts, factor 1) is accepted.
/// Fields that are only about training or bookkeeping (initializer_range, use_cache, attention_dropout, which is
/// off at evaluation) or that compute the same function (pretraining_tp, Hugging Face's sliced matmuls) are not here.
/// </summary>
public static class UnimplementedConfigFields
{
    static readonly (string Field, Func<JsonNode, bool> Neutral, string What)[] Fields =
    [
        ("logit_scale", IsOne, "scales the logits (Cohere)"),
        ("logits_scaling", IsOne, "divides the logits (Granite)"),
        ("final_logit_softcapping", NoNeutralValue, "soft-caps the logits (Gemma 2)"),
        ("attn_logit_softcapping", NoNeutralValue, "soft-caps the attention scores (Gemma 2)"),
        ("query_pre_attn_scalar", NoNeutralValue, "rescales the attention scores (Gemma)"),
        ("attention_multiplier", NoNeutralValue, "rescales the attention scores (Granite)"),
        ("embedding_multiplier", IsOne, "scales the embeddings (Granite)"),
        ("residual_multiplier", IsOne, "scales the residual branches (Granite)"),
        ("partial_rotary_factor", IsOne, "rotates only part of each head"),
        ("qk_layernorm", IsFalse, "normalises queries and keys"),
        ("use_qk_norm", IsFalse, "normalises queries and keys"),
        ("qk_norm", IsFalse, "normalises queries and keys"),
        ("attention_chunk_size", NoNeutralValue, "restricts attention to chunks (Llama 4)"),
        ("no_rope_layers", NoNeutralValue, "leaves some layers without RoPE"),
        ("use_parallel_residual", IsFalse, "runs attention and MLP in parallel"),
        ("num_experts", IsZero, "is a mixture of experts"),
        ("num_local_experts", IsZero, "is a mixture of experts"),
        ("n_routed_experts", IsZero, "is a mixture of experts"),
    ];

    /// <summary>Throws a UserError naming the first unimplemented field of <paramref name="j"/> that has an effect.</summary>
    public static void Check(JsonObject j, string source)
    {
        foreach (var (field, neutral, what) in Fields)
            if (j[field] is { } value && !neutral(value))
                throw new UserError($"{source}: field '{field}' = {ConfigFields.Show(value)} {what}, which NasPrune does not compute");
    }

    static bool NoNeutralValue(JsonNode n) => false; // only JSON null (read as absent) is neutral
    static bool IsOne(JsonNode n) => n is JsonValue v && v.TryGetValue<double>(out var d) && d == 1;
    static bool IsZero(JsonNode n) => n is JsonValue v && v.TryGetValue<double>(out var d) && d == 0;
    static bool IsFalse(JsonNode n) => n is JsonValue v && v.TryGetValue<bool>(out var b) && !b;
}
