#!/usr/bin/env python3
"""Markdown tables of experiments/scale/results/*.tsv (written by run.sh): wall time and peak RSS per stage and shape,
and the evaluation memory check (model load time, RSS after load, peak while evaluating, against the weights)."""
import csv, json, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
res = os.path.join(here, "results")
order = ["embedded", "smollm-135m", "qwen2.5-0.5b", "qwen3-0.6b", "tinyllama-1.1b"]
shapes = [s for s in order if os.path.exists(os.path.join(res, s + ".tsv"))]
rows = {s: list(csv.DictReader(open(os.path.join(res, s + ".tsv")), delimiter="\t")) for s in shapes}

def info(shape):
    p = os.path.join(res, "logs", shape, "info.out")
    try:
        return json.load(open(p))
    except Exception:
        return None

def gib(kib):
    return float(kib) / (1 << 20)

stages = []
for s in shapes:
    for r in rows[s]:
        if r["stage"] not in stages:
            stages.append(r["stage"])

head = "| stage | " + " | ".join(f"{s} ({info(s)['params'] / 1e6:,.0f} M)" if info(s) else s for s in shapes) + " |"
print(head)
print("|---|" + "---:|" * len(shapes))
for st in stages:
    cells = []
    for s in shapes:
        r = next((r for r in rows[s] if r["stage"] == st), None)
        if r is None:
            cells.append("–")
        elif r["exit"] in ("143", "137"):
            cells.append("stopped for time (killed)")
        elif r["exit"] != "0":
            err = open(os.path.join(res, "logs", s, st + ".err")).read().strip().splitlines()
            line = next((l for l in err if l.startswith("nasprune: error")), err[-1] if err else "")
            cells.append(f"refused (exit {r['exit']}): {line.replace('nasprune: error: ', '')[:90]}…" if len(line) > 90 else f"refused (exit {r['exit']}): {line.replace('nasprune: error: ', '')}")
        else:
            cells.append(f"{float(r['wall_s']):.1f} s, {gib(r['max_rss_kib']):.2f} GiB")
    print(f"| {st} | " + " | ".join(cells) + " |")

print()
print("| shape | parameters | float32 weights W | load (eval) | RSS after load (runtime R = RSS − W) | peak RSS while evaluating P | logits L = 2 · positions · vocab · 4 B | (P − R) / (1.3 W + L) | load average |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in shapes:
    err = open(os.path.join(res, "logs", s, "eval.err")).read()
    m = re.search(r"model loaded in ([\d.]+) s: weights ([\d.]+) GiB in (\w+); RSS ([\d.]+) GiB \(peak ([\d.]+) GiB\)", err)
    e = re.search(r"evaluated: RSS ([\d.]+) GiB \(peak ([\d.]+) GiB\); logits chunk (\d+) positions x (\d+) ids", err)
    r = next(r for r in rows[s] if r["stage"] == "eval")
    if not (m and e):
        continue
    w, after, peak = float(m.group(2)), float(m.group(4)), float(e.group(2))
    tokens = json.load(open(os.path.join(res, "logs", s, "eval.out")))["tokens"]
    logits = 2 * min(int(e.group(3)), tokens) * int(e.group(4)) * 4 / (1 << 30)
    runtime = after - w
    print(f"| {s} | {info(s)['params']:,} | {w:.2f} GiB | {float(m.group(1)):.1f} s | {after:.2f} GiB (R {runtime:.2f}) | "
          f"{peak:.2f} GiB | {logits:.2f} GiB | {(peak - runtime) / (1.3 * w + logits):.2f} | {r['load_avg']} |")
