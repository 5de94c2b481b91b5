#!/usr/bin/env python3
"""Medians over the runs of `nasprune bench generation --json` in a folder (embedded-*.json), and the 1.1B run."""
import glob, json, os, statistics, sys

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "runs")
def load(pattern):
    """Finished runs only (a run still going has an empty file)."""
    paths = sorted(glob.glob(os.path.join(folder, pattern)))
    return [json.load(open(p)) for p in paths if os.path.getsize(p) > 0]

runs = [r for r in load("embedded-[0-9]*.json") if r["threads"] == 2]
one_thread = load("embedded-1thread.json")
big = load("tinyllama-1.1b*.json")

def med(values):
    return statistics.median(values)

def table(results, title):
    if not results:
        return
    first = results[0]
    print(f"## {title}")
    print(f"{first['model']}, {first['threads']} threads, prompt {first['prompt_tokens']} tokens, decode {first['decode_tokens']} tokens; "
          f"median over {len(results)} run(s) of per-run medians of {first['repeats']}\n")
    print("| model | params | param ratio | NasPrune prefill tok/s | llama.cpp prefill tok/s | prefill ratio | NasPrune decode tok/s | llama.cpp decode tok/s | decode ratio | llama.cpp decode speed-up / param ratio | NasPrune decode speed-up / param ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, v in enumerate(first["variants"]):
        vs = [r["variants"][i] for r in results]
        ours = lambda key: med([x["engines"][0][key] for x in vs])
        theirs = lambda key: med([x["engines"][1][key] for x in vs])
        dense = i == 0
        print(f"| {v['name']} | {v['params']:,} | {v['param_ratio']:.2f} | {ours('prefill_tokens_per_second'):.0f} | {theirs('prefill_tokens_per_second'):.0f} | "
              f"{med([x['nas_prune_over_llama_cpp_prefill'] for x in vs]):.2f} | {ours('decode_tokens_per_second'):.1f} | {theirs('decode_tokens_per_second'):.1f} | "
              f"{med([x['nas_prune_over_llama_cpp_decode'] for x in vs]):.2f} | "
              f"{'—' if dense else format(med([x['llama_cpp_speedup_over_param_ratio'] for x in vs]), '.2f')} | "
              f"{'—' if dense else format(med([x['nas_prune_speedup_over_param_ratio'] for x in vs]), '.2f')} |")
    print()
    print("per run (decode ratio NasPrune/llama.cpp, dense):", ", ".join(f"{r['variants'][0]['nas_prune_over_llama_cpp_decode']:.2f}" for r in results))
    print()

table(runs, "Embedded model, 2 threads")
table(one_thread, "Embedded model, 1 thread")
table(big, "Random-weight TinyLlama-1.1B shape")
