#!/usr/bin/env bash
# Reproduces every predictor figure in README.md (run from the repository root). Inputs: the pair sets named below
# (made with `nasprune sample`, commands in README.md). Outputs go to experiments/predictor/<study>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/predictor
TRAIN=${TRAIN:-experiments/pairs/embedded-train}
HELD=${HELD:-experiments/pairs/embedded-heldout}
F2_MODEL=${F2_MODEL:-experiments/models/nasprune-tiny-llama-6l-gqa}
F2_TRAIN=${F2_TRAIN:-experiments/pairs/family2-train}
F2_HELD=${F2_HELD:-experiments/pairs/family2-heldout}

run() { local name=$1; shift; mkdir -p "$OUT/$name"; echo "+ nasprune $*" | tee "$OUT/$name/command.txt"
        ${NASPRUNE:-./nasprune} "$@" > "$OUT/$name/table.txt"; cat "$OUT/$name/table.txt"; }

# 0. Sanity and development runs that need no lead-made pairs:
#    a) synthetic pairs with a known monotone loss (SyntheticPairs), 400 train / 200 held-out;
SYN=${SYN:-/tmp/nasprune-predictor-synthetic}
[ -d "$SYN/train" ] || ${NASPRUNE:-./nasprune} predictor synthetic-pairs --out "$SYN/train" --count 400 --seed 1
[ -d "$SYN/heldout" ] || ${NASPRUNE:-./nasprune} predictor synthetic-pairs --out "$SYN/heldout" --count 200 --seed 2
rm -f "$OUT/synthetic/predictor."*
run synthetic predictor train --pairs "$SYN/train" --heldout "$SYN/heldout" --out "$OUT/synthetic/predictor.zip" --curve-sizes 50 100 200 400
[ "${SYNTHETIC_ONLY:-0}" = 1 ] && exit 0

# 1. The predictor (target nll, per-layer + depth-invariant features): CV, held-out vs baselines, learning curve, plots.
rm -f "$OUT/embedded-nll/predictor."*
run embedded-nll predictor train --pairs "$TRAIN" --heldout "$HELD" --out "$OUT/embedded-nll/predictor.zip" --curve-sizes 50 100 200
# 2. Same with the delta-vs-uniform target.
rm -f "$OUT/embedded-delta/predictor."*
run embedded-delta predictor train --pairs "$TRAIN" --heldout "$HELD" --out "$OUT/embedded-delta/predictor.zip" --target delta-uniform --curve-sizes 50 100 200
# 3. Depth-invariant features only (the transferable variant) on the same data.
rm -f "$OUT/embedded-invariant/predictor."*
run embedded-invariant predictor train --pairs "$TRAIN" --heldout "$HELD" --out "$OUT/embedded-invariant/predictor.zip" --depth-invariant --curve-sizes 50 100 200
# 3b. Target kl: the mean per-token KL(dense ‖ candidate) on the same windows (pairs sampled with --measure both).
rm -f "$OUT/embedded-kl/predictor."*
run embedded-kl predictor train --pairs "$TRAIN" --heldout "$HELD" --out "$OUT/embedded-kl/predictor.zip" --target kl --curve-sizes 50 100 200
# 4. Predictions per second for 50,000 candidates.
run bench predictor bench --predictor "$OUT/embedded-nll/predictor.zip" --count 50000
# 5. Transfer to the second family (6 layers, GQA 8/4, FFN 640, seed 4321).
if [ -d "$F2_TRAIN" ] && [ -d "$F2_HELD" ]; then
  run transfer predictor transfer --source-pairs "$TRAIN" --pairs "$F2_TRAIN" --heldout "$F2_HELD" --model "$F2_MODEL" --sizes 25 50 100 --repeats 5
  run transfer-delta predictor transfer --source-pairs "$TRAIN" --pairs "$F2_TRAIN" --heldout "$F2_HELD" --model "$F2_MODEL" --sizes 25 50 100 --repeats 5 --target delta-uniform
fi
