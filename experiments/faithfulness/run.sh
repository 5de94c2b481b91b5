#!/usr/bin/env bash
# Reproduces the faithful-benchmark figures in README.md on the embedded model (run from the repository root):
#   1. the predictor's pair sets: 300 random candidates keeping 75–85 % of the parameters, WikiText-2 validation
#      NLL and KL to the dense model on 32 fixed windows;
#   2. the uniform pruning table (4 criteria × 20/50 % × none/ls/lora, first 128 windows of each test split);
#   3. the check that the dense model is below every candidate and every cut (`nasprune faithfulness`).
set -euo pipefail
cd "$(dirname "$0")/../.."
NASPRUNE=${NASPRUNE:-./nasprune}
OUT=experiments/faithfulness
[ -d experiments/pairs/embedded-train ] || $NASPRUNE sample --out experiments/pairs/embedded-train --count 200 --seed 1 --measure both --json
[ -d experiments/pairs/embedded-heldout ] || $NASPRUNE sample --out experiments/pairs/embedded-heldout --count 100 --seed 2 --measure both --json
[ -f experiments/pruning-table/results.json ] || $NASPRUNE prune-sweep --out experiments/pruning-table --criteria all --budgets 0.2 0.5 \
  --recover none ls lora --lora-steps 60 --lora-lr 1e-3 --eval-windows 128 --seed 1234
for set in embedded-train embedded-heldout; do
  # exit 1 means "not faithful": keep going so that both sets are reported
  $NASPRUNE faithfulness --pairs experiments/pairs/$set --sweep experiments/pruning-table/results.json --json > $OUT/$set.json || true
done
cat $OUT/*.json
