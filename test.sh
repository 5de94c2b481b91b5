#!/usr/bin/env bash
# The test suite (what CI runs): builds the solution and runs every test, CPU only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$ROOT/scripts/ensure-dotnet.sh"
cd "$ROOT"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
set +e
dotnet test NasPrune.sln -c Release "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
# One plain closing line: "N passed, N failed, N skipped" summed over test assemblies.
awk '/(Passed|Failed)! +- Failed:/ { gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$LOG"
exit "$status"
