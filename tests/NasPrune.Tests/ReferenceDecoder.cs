using NasPrune.Common;

namespace NasPrune.Tests;

/// <summary>
/// A deliberately naive LLaMA forward pass in plain C# doubles, written from the formulas (RMSNorm, rotate-half
/// RoPE, grouped-query causal softmax attention with an optional sliding window, Qwen3's per-head q/k RMSNorm,
/// a gated MLP with config.json's hidden_act, tied/untied head; Phi-3's fused tensors split by its formulas), sharing no code with the TorchSharp model. Tests compare the two on tiny models.
/// </summary>
public sealed class ReferenceDecoder(ModelConfig c, IReadOnlyDictionary<string, double[,]> w, IReadOnlyDictionary<string, double[]> v)
{
    public double[,] Logits(int[] ids)
    {
        int t = ids.Length, d = c.HiddenSize;
        var emb = w["model.embed_tokens.weight"];
        var h = new double[t, d];
        for (int i = 0; i < t; i++) for (int j = 0; j < d; j++) h[i, j] = emb[ids[i], j];
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            var s = c.Layers[layer];
            string p = $"model.layers.{layer}.";
            if (s.HasAttention) h = Add(h, Attention(RmsNorm(h, v[p + "input_layernorm.weight"]), p, s, c.AttentionWindow(layer)));
            if (s.HasMlp) h = Add(h, Mlp(RmsNorm(h, v[p + "post_attention_layernorm.weight"]), p));
        }
        h = RmsNorm(h, v["model.norm.weight"]);
        var head = c.TieWordEmbeddings ? emb : w["lm_head.weight"];
        return MatMulT(h, head);
    }

    public double[,] RmsNorm(double[,] x, double[] weight)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var y = new double[n, d];
        for (int i = 0; i < n; i++)
        {
            double ms = 0;
            for (int j = 0; j < d; j++) ms += x[i, j] * x[i, j];
            double r = 1 / Math.Sqrt(ms / d + c.RmsNormEps);
            for (int j = 0; j < d; j++) y[i, j] = x[i, j] * r * weight[j];
        }
        return y;
    }

    /// <summary>Rotate-half RoPE on one head vector at position pos: pairs (i, i + hd/2) rotate by pos·θ_i.</summary>
    public double[] Rope(double[] x, int pos)
    {
        int hd = x.Length, half = hd / 2;
        var y = new double[hd];
        for (int i = 0; i < half; i++)
        {
            double angle = pos * Math.Pow(c.RopeTheta, -2.0 * i / hd);
            y[i] = x[i] * Math.Cos(angle) - x[i + half] * Math.Sin(angle);
            y[i + half] = x[i + half] * Math.Cos(angle) + x[i] * Math.Sin(angle);
        }
        return y;
    }

    /// <summary>Query i sees keys j ≤ i with i − j &lt; window (the whole prefix when window is null).</summary>
    double[,] Attention(double[,] x, string p, LayerShape s, int? window)
    {
        int t = x.GetLength(0), hd = c.HeadDim, group = c.GroupSize;
        var q = Linear(x, p + "self_attn.q_proj");
        var k = Linear(x, p + "self_attn.k_proj");
        var val = Linear(x, p + "self_attn.v_proj");
        // Qwen3: every query and key head is RMS-normalised over head_dim (one weight for all heads) before RoPE.
        if (v.TryGetValue(p + "self_attn.q_norm.weight", out var qNorm))
        {
            q = PerHeadRmsNorm(q, s.Heads, qNorm);
            k = PerHeadRmsNorm(k, s.KvHeads, v[p + "self_attn.k_norm.weight"]);
        }
        var merged = new double[t, s.Heads * hd];
        for (int head = 0; head < s.Heads; head++)
        {
            int kvHead = head / group;
            for (int i = 0; i < t; i++)
            {
                var qi = Rope(Slice(q, i, head * hd, hd), i);
                var scores = new double[i + 1];
                int first = window is int w ? Math.Max(0, i - w + 1) : 0;
                for (int j = 0; j < first; j++) scores[j] = double.NegativeInfinity; // outside the window: weight 0
                for (int j = first; j <= i; j++)
                {
                    var kj = Rope(Slice(k, j, kvHead * hd, hd), j);
                    scores[j] = qi.Zip(kj, (a, b) => a * b).Sum() / Math.Sqrt(hd);
                }
                double max = scores.Max();
                var e = scores.Select(z => Math.Exp(z - max)).ToArray();
                double sum = e.Sum();
                for (int j = first; j <= i; j++)
                    for (int u = 0; u < hd; u++)
                        merged[i, head * hd + u] += e[j] / sum * val[j, kvHead * hd + u];
            }
        }
        return Linear(merged, p + "self_attn.o_proj");
    }

    double[,] PerHeadRmsNorm(double[,] x, int heads, double[] weight)
    {
        int t = x.GetLength(0), hd = weight.Length;
        var y = new double[t, heads * hd];
        for (int head = 0; head < heads; head++)
        {
            var slice = new double[t, hd];
            for (int i = 0; i < t; i++) for (int u = 0; u < hd; u++) slice[i, u] = x[i, head * hd + u];
            var normed = RmsNorm(slice, weight);
            for (int i = 0; i < t; i++) for (int u = 0; u < hd; u++) y[i, head * hd + u] = normed[i, u];
        }
        return y;
    }

    /// <summary>
    /// Phi-3's checkpoint tensors as the separate projections this reference reads, by Phi3Attention/Phi3MLP's
    /// formulas: qkv_proj's output is queries (heads·head_dim), then keys, then values (kv heads·head_dim each);
    /// gate_up_proj's output is chunked in two, gate first.
    /// </summary>
    public static Dictionary<string, double[,]> SplitPhi3(ModelConfig c, IReadOnlyDictionary<string, double[,]> stored)
    {
        var w = new Dictionary<string, double[,]>();
        foreach (var (name, m) in stored)
        {
            if (name.EndsWith("self_attn.qkv_proj.weight"))
            {
                string p = name[..^"qkv_proj.weight".Length];
                int layer = int.Parse(name.Split('.')[2]);
                int q = c.Layers[layer].Heads * c.HeadDim, kv = c.Layers[layer].KvHeads * c.HeadDim;
                w[p + "q_proj.weight"] = Rows(m, 0, q);
                w[p + "k_proj.weight"] = Rows(m, q, kv);
                w[p + "v_proj.weight"] = Rows(m, q + kv, kv);
            }
            else if (name.EndsWith("mlp.gate_up_proj.weight"))
            {
                string p = name[..^"gate_up_proj.weight".Length];
                int half = m.GetLength(0) / 2;
                w[p + "gate_proj.weight"] = Rows(m, 0, half);
                w[p + "up_proj.weight"] = Rows(m, half, half);
            }
            else w[name] = m;
        }
        return w;
    }

    static double[,] Rows(double[,] m, int start, int count)
    {
        int cols = m.GetLength(1);
        var r = new double[count, cols];
        for (int i = 0; i < count; i++) for (int j = 0; j < cols; j++) r[i, j] = m[start + i, j];
        return r;
    }

    double[,] Mlp(double[,] x, string p)
    {
        var gate = Linear(x, p + "mlp.gate_proj");
        var up = Linear(x, p + "mlp.up_proj");
        for (int i = 0; i < gate.GetLength(0); i++)
            for (int j = 0; j < gate.GetLength(1); j++)
                gate[i, j] = Activation(c.HiddenAct, gate[i, j]) * up[i, j];
        return Linear(gate, p + "mlp.down_proj");
    }

    /// <summary>Hugging Face's ACT2FN functions by name, from their textbook formulas.</summary>
    public static double Activation(string name, double x) => name switch
    {
        "silu" or "swish" => x / (1 + Math.Exp(-x)),
        "gelu" => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        "gelu_pytorch_tanh" or "gelu_new" => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        "relu" => Math.Max(0, x),
        _ => throw new ArgumentException($"no reference for hidden_act '{name}'"),
    };

    /// <summary>erf by its Maclaurin series, exact to ~1e-12 for |x| ≤ 4; beyond, erf is ±1 within 2e-8.</summary>
    static double Erf(double x)
    {
        if (Math.Abs(x) > 4) return Math.Sign(x);
        double sum = 0, term = x; // term = (-1)^n x^(2n+1) / n!
        for (int n = 0; n < 100; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    double[,] Linear(double[,] x, string name)
    {
        var y = MatMulT(x, w[name + ".weight"]);
        if (v.TryGetValue(name + ".bias", out var b))
            for (int i = 0; i < y.GetLength(0); i++) for (int j = 0; j < y.GetLength(1); j++) y[i, j] += b[j];
        return y;
    }

    static double[] Slice(double[,] x, int row, int start, int len)
    {
        var r = new double[len];
        for (int i = 0; i < len; i++) r[i] = x[row, start + i];
        return r;
    }

    static double[,] MatMulT(double[,] x, double[,] weight)
    {
        int n = x.GetLength(0), k = x.GetLength(1), m = weight.GetLength(0);
        var y = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int u = 0; u < k; u++) s += x[i, u] * weight[j, u];
                y[i, j] = s;
            }
        return y;
    }

    static double[,] Add(double[,] a, double[,] b)
    {
        var y = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++) for (int j = 0; j < a.GetLength(1); j++) y[i, j] += b[i, j];
        return y;
    }
}
