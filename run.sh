#!/usr/bin/env bash
# The main job on the embedded default model: the whole NasPrune campaign at 20 % of parameters removed
# (importance → pairs → predictor → search with real verification → final test verification → report).
# Writes runs/default/ (report.md, results.json, plots, exported checkpoints). Rerunning continues an interrupted run.
# Extra arguments go to `nasprune campaign` (e.g. --out DIR, --device cuda).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
"$ROOT/nasprune" info
"$ROOT/nasprune" campaign --config experiments/default/campaign.yaml "$@"
