#!/usr/bin/env bash
# Reproduces the faithful-benchmark figures in README.md on the embedded model (run from the repository root):
#   1. the predictor's pair sets (600 random candidates with 15–25 % of parameters removed, WikiText-2 validation);
#   2. the uniform pruning table (4 criteria × 20/50 % × none/ls/lora, whole test splits);
#   3. the check that the dense model is below every candidate and every cut (`nasprune faithfulness`).
set -euo pipefail
cd "$(dirname "$0")/../.."
NASPRUNE=${NASPRUNE:-./nasprune}
[ -d experiments/pairs/embedded-train ] || $NASPRUNE sample --out experiments/pairs/embedded-train --count 400 --seed 1 --json > /tmp/embedded-train.json
[ -d experiments/pairs/embedded-heldout ] || $NASPRUNE sample --out experiments/pairs/embedded-heldout --count 200 --seed 2 --json > /tmp/embedded-heldout.json
[ -f experiments/pruning-table/results.json ] || $NASPRUNE prune-sweep --out experiments/pruning-table --criteria all --budgets 0.2 0.5 \
  --recover none ls lora --lora-steps 60 --lora-lr 1e-3 --seed 1234
for set in embedded-train embedded-heldout; do
  $NASPRUNE faithfulness --pairs experiments/pairs/$set --sweep experiments/pruning-table/results.json --json \
    > experiments/faithfulness/$set.json || true
  $NASPRUNE faithfulness --pairs experiments/pairs/$set --sweep experiments/pruning-table/results.json | tee experiments/faithfulness/$set.txt || true
done
