#!/usr/bin/env bash
# Issue 16's decode/prefill figures: `nasprune bench generation` (NasPrune vs llama.cpp through LLamaSharp 0.30.0,
# same F32 weights, 2 threads) run RUNS times on the embedded model, dense and uniformly pruned by 20 % and 50 %,
# each run's JSON and the load average before and after it kept; then once with 1 thread; then the random-weight
# TinyLlama-1.1B shape once.
# summarize.py takes the median over runs of each figure. Usage: experiments/decode/run.sh [RUNS] [all|embedded|1.1b]
# ($NASPRUNE overrides the command, e.g. a copy of the build so that the tree can be rebuilt meanwhile).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/experiments/decode/runs"
RUNS="${1:-3}"
WHAT="${2:-all}"
NASPRUNE="${NASPRUNE:-./nasprune}"
mkdir -p "$OUT"
cd "$ROOT"
[ "$WHAT" = 1.1b ] || for i in $(seq 1 "$RUNS"); do
  { date -u; cat /proc/loadavg; } > "$OUT/embedded-$i.load"
  $NASPRUNE bench generation --threads 2 --prompt-tokens 256 --decode-tokens 64 --repeats 5 --pruned 0.2 0.5 --json > "$OUT/embedded-$i.json"
  { date -u; cat /proc/loadavg; } >> "$OUT/embedded-$i.load"
  $NASPRUNE bench generation --threads 2 --decode-tokens 128 --profile > "$OUT/profile-$i.txt"
done
[ "$WHAT" = 1.1b ] || {
  # One thread: the bench and the profile once more, so each engine's single-thread decode is compared too.
  { date -u; cat /proc/loadavg; } > "$OUT/embedded-1thread.load"
  $NASPRUNE bench generation --threads 1 --prompt-tokens 256 --decode-tokens 64 --repeats 5 --pruned 0.2 0.5 --json > "$OUT/embedded-1thread.json"
  { date -u; cat /proc/loadavg; } >> "$OUT/embedded-1thread.load"
  $NASPRUNE bench generation --threads 1 --decode-tokens 128 --profile > "$OUT/profile-1thread.txt"
}
if [ "$WHAT" != embedded ]; then
  { date -u; cat /proc/loadavg; } > "$OUT/tinyllama-1.1b.load"
  $NASPRUNE bench generation --random-shape tinyllama-1.1b --threads 2 --prompt-tokens 256 --decode-tokens 16 --repeats 1 --pruned 0 --json > "$OUT/tinyllama-1.1b.json"
  { date -u; cat /proc/loadavg; } >> "$OUT/tinyllama-1.1b.load"
fi
python3 "$ROOT/experiments/decode/summarize.py" "$OUT"
