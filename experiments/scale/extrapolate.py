#!/usr/bin/env python3
"""On-paper extrapolation of NasPrune's costs to 7-8 B and 70 B models on one 80-141 GB GPU, from the FLOP and memory
formulas NasPrune itself uses (ModelConfig.ForwardFlopsPerToken, TaylorCriterion.Estimate) and the throughput measured
here (experiments/scale/results/*/eval.out). Assumptions are printed with the figures; nothing here is a measurement
on a GPU."""
import json, os, glob

here = os.path.dirname(os.path.abspath(__file__))

SHAPES = {  # name: (vocab, hidden, layers, heads, kv, head_dim, ffn, tied)
    "embedded": (4096, 256, 8, 8, 8, 32, 688, True),
    "smollm-135m": (49152, 576, 30, 9, 3, 64, 1536, True),
    "qwen3-0.6b": (151936, 1024, 28, 16, 8, 128, 3072, True),
    "qwen2.5-0.5b": (151936, 896, 24, 14, 2, 64, 4864, True),
    "tinyllama-1.1b": (32000, 2048, 22, 32, 4, 64, 5632, False),
    "llama-3.1-8b": (128256, 4096, 32, 32, 8, 128, 14336, False),
    "qwen3-8b": (151936, 4096, 36, 32, 8, 128, 12288, False),
    "llama-3.1-70b": (128256, 8192, 80, 64, 8, 128, 28672, False),
}

def params(s):
    V, H, L, nh, kv, hd, F, tied = s
    q, k = nh * hd, kv * hd
    return V * H * (1 if tied else 2) + H + L * (H * (q + 2 * k) + q * H + H + 3 * H * F + H)

def flops_per_token(s, T):
    V, H, L, nh, kv, hd, F, tied = s
    q, k = nh * hd, kv * hd
    return 2 * V * H + L * (2 * H * (2 * q + 2 * k) + 2 * 2 * q * (T + 1) / 2 + 2 * 3 * H * F)

def taylor_bytes(s, batch, T, elem):
    V, H, L, nh, kv, hd, F, tied = s
    q, k = nh * hd, kv * hd
    per_token = L * ((3 * H + H + 3 * (q + 2 * k) + nh * T + q) + (3 * H + H + 4 * F))
    w = params(s) * elem
    return w, w, per_token * batch * T * 4, 3 * batch * T * V * 4

GiB = 1 << 30
# Measured here: forward throughput of the eval stage on this shared 2-core CPU.
print("Measured CPU forward rate (eval stage, 2 windows x 256 tokens, shared 2-core machine):")
for f in sorted(glob.glob(os.path.join(here, "results", "logs", "*", "eval.out"))):
    shape = f.split(os.sep)[-2]
    if shape not in SHAPES: continue
    r = json.load(open(f))
    rate = r["tokens"] * flops_per_token(SHAPES[shape], r["seq_len"]) / r["seconds"]
    print(f"  {shape}: {r['tokens']} tokens in {r['seconds']:.1f} s = {rate / 1e9:.1f} GFLOP/s")

GPU_RATE = 400e12  # bf16 FLOP/s a GPU sustains on these forward passes: ~40 % of an H100's 989 TFLOP/s dense peak (assumption)
print(f"\nAssumed GPU rate: {GPU_RATE / 1e12:.0f} TFLOP/s bf16 (40 % of H100 dense peak); candidates keep 80 % of the FLOPs.")
print("| model | params | bf16 weights | time per pair, 32 x 2048 tokens | pairs per GPU-hour | 128 x 2048 tokens | eval fits 80 GB / 141 GB | Taylor, batch 1 x 2048 (weights + bf16 grads + fp32 activations + logits) | Taylor fits 80 / 141 GB |")
print("|---|---:|---:|---:|---:|---:|---|---:|---|")
for name in ["llama-3.1-8b", "qwen3-8b", "llama-3.1-70b"]:
    s = SHAPES[name]
    p = params(s)
    pair = 32 * 2048 * flops_per_token(s, 2048) * 0.8 / GPU_RATE
    pair128 = 4 * pair
    w = p * 2
    # evaluation: weights + activations of one batch of 8 x 2048 (a layer's MLP intermediates, bf16) + 2 x 256 MiB logits chunks + 2 GB runtime
    V, H, L, nh, kv, hd, F, tied = s
    eval_bytes = w + 8 * 2048 * (4 * H + 3 * F) * 2 + 2 * (256 << 20) + 2e9
    tw, tg, ta, tl = taylor_bytes(s, 1, 2048, 2)
    taylor = tw + tg + ta + tl
    fits = lambda b: f"{'yes' if b < 80e9 else 'no'} / {'yes' if b < 141e9 else 'no'}"
    print(f"| {name} | {p / 1e9:.2f} B | {w / 1e9:.0f} GB | {pair:.1f} s | {3600 / pair:,.0f} | {pair128:.1f} s ({3600 / pair128:,.0f}/h) | {fits(eval_bytes)} ({eval_bytes / 1e9:.0f} GB) | {taylor / 1e9:.0f} GB | {fits(taylor)} |")
