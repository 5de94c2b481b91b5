#!/usr/bin/env bash
# Crash test for `nasprune campaign`: a small campaign on the embedded model (experiments/crash-test/campaign-small.yaml)
# is killed with SIGKILL KILLS times at seeded random moments spread over every stage, and rerun with the same command
# after each kill; then it runs to the end. PASS needs every file of the crashed run directory to equal the
# uninterrupted run's, timings aside:
#   - JSON files: equal after dropping the timing fields (keys containing "seconds" or "latency");
#   - report.md: equal after blanking the latency column;
#   - Parquet pair files: the same file names, and `nasprune pairs compare` finds the same ids with the same values
#     (rows carry wall_seconds, a timing);
#   - predictor/model.zip: the same entries with the same bytes (zip headers hold write times);
#   - everything else (checkpoints, tokenizers, plots, sample.json, campaign.json, the lock file): byte for byte.
#
#   scripts/crash-test-campaign.sh                 # 20 kills (~15 minutes on 2 idle CPUs)
#   KILLS=5 KEEP=1 scripts/crash-test-campaign.sh
#
# Kill moments: attempt k aims at stage TARGETS[k] (start-up, initial pairs, the first predictor, each active round,
# the random-search baseline, final verification, the report: 2-3 kills each, in pipeline order). It polls the run
# directory until the run has reached that stage and kills after a further seeded random 0-2 s (at once for the
# report, which lasts about a second); a run already past
# its target is killed after a seeded random sleep instead. Where each kill landed is read from the files present.
#
# Settings (environment): KILLS (20), KILL_SEED (11), REFERENCE (an existing uninterrupted run directory to reuse), CONFIG (the small campaign), CRASH_TEST_DIR (a new
# /tmp/nasprune-crash-campaign.* folder), KEEP (0; 1 keeps it), NASPRUNE (the CLI command; default: build and run the
# Release DLL, so the SIGKILL hits the CLI process itself).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KILLS="${KILLS:-20}" KILL_SEED="${KILL_SEED:-11}" KEEP="${KEEP:-0}"
CONFIG="${CONFIG:-$ROOT/experiments/crash-test/campaign-small.yaml}"

log() { echo "[crash-campaign $(date +%T)] $*" >&2; }
fail() { log "FAIL: $*"; echo "FAIL"; exit 1; }

source "$ROOT/scripts/crash-test-common.sh"
require_tools jq:jq unzip:unzip
build_cli
make_workdir nasprune-crash-campaign
cd "$ROOT"

# Which stage a run directory has reached (what a kill interrupted).
stage() {
  local d="$1"
  if [ -f "$d/report.md" ]; then echo "done"
  elif [ -f "$d/results.json" ]; then echo "report"
  elif ls "$d"/final/*.json >/dev/null 2>&1 || [ -d "$d/final" ]; then echo "final"
  elif [ -d "$d/random" ]; then echo "random-baseline"
  elif ls "$d"/search/round-*.plan.json >/dev/null 2>&1; then echo "active-$(ls "$d"/search/round-*.plan.json | wc -l)"
  elif [ -f "$d/predictor/model.zip" ]; then echo "predictor"
  elif ls "$d"/pairs/shard-0-of-1/part-*.parquet >/dev/null 2>&1; then echo "initial-pairs"
  else echo "start-up"; fi
}

# --- 1. The uninterrupted reference -------------------------------------------------------------------------------
t0=$(now)
if [ -n "${REFERENCE:-}" ]; then
  log "reference: reusing $REFERENCE"; cp -r "$REFERENCE" "$REF"
else
  log "reference: campaign --config $CONFIG --out $REF"
  "${CLI[@]}" campaign --config "$CONFIG" --out "$REF" >"$LOGS/reference.out" 2>&1 || { tail -n 20 "$LOGS/reference.out" >&2; fail "the reference run failed"; }
fi
t_ref=$(since "$t0")
# Kill sleeps: up to twice the reference's time per kill plus start-up, so the kills walk through the stages.
MAX_SLEEP=$(awk -v t="$t_ref" -v k="$KILLS" 'BEGIN { printf "%.1f", 6 + 2 * t / k }')
log "reference done in ${t_ref}s; kill sleeps 2-${MAX_SLEEP}s"

# --- 2. Kill, rerun, kill, ... ------------------------------------------------------------------------------------
RANDOM=$KILL_SEED
kills=0 finished_early=0 stages=()
t1=$(now)
ORDER=(start-up initial-pairs predictor active-1 active-2 random-baseline final report done)
TARGETS=(start-up start-up initial-pairs initial-pairs initial-pairs predictor predictor active-1 active-1 active-1
         active-2 active-2 active-2 random-baseline random-baseline final final final report report)
rank() { local i; for i in "${!ORDER[@]}"; do [ "${ORDER[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo 99; }
for attempt in $(seq 1 "$KILLS"); do
  target="${TARGETS[$(( (attempt - 1) % ${#TARGETS[@]} ))]}"
  jitter=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 2 * r / 32767 }')
  sleep_s=$(awk -v r="$RANDOM" -v m="$MAX_SLEEP" 'BEGIN { printf "%.2f", 2 + (m - 2) * r / 32767 }')
  "${CLI[@]}" campaign --config "$CONFIG" --out "$CRASH" >>"$LOGS/attempt-$attempt.out" 2>&1 &
  pid=$!
  if [ "$(rank "$(stage "$CRASH")")" -le "$(rank "$target")" ]; then
    # Wait for the target stage (or the run's end), then a little more.
    while kill -0 "$pid" 2>/dev/null && [ "$(rank "$(stage "$CRASH")")" -lt "$(rank "$target")" ]; do sleep 0.2; done
    [ "$target" = report ] || sleep "$jitter"  # the report stage lasts about a second
  else
    sleep "$sleep_s"
  fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    kills=$((kills + 1)); stages+=("$(stage "$CRASH")")
    log "kill $kills (aimed at $target): in ${stages[-1]}"
  else
    wait "$pid" || fail "attempt $attempt failed (see $LOGS/attempt-$attempt.out)"
    log "attempt $attempt finished before its kill (aimed at $target)"; finished_early=1
  fi
done
log "final run"
"${CLI[@]}" campaign --config "$CONFIG" --out "$CRASH" >"$LOGS/final.out" 2>&1 || { tail -n 20 "$LOGS/final.out" >&2; fail "the final run failed"; }
t_crash=$(since "$t1")

# --- 3. Compare every file --------------------------------------------------------------------------------------
mismatches=0
note() { log "differs: $1"; mismatches=$((mismatches + 1)); }
untimed_json() { jq -S 'walk(if type == "object" then with_entries(select(.key | test("seconds|latency") | not)) else . end)' "$1"; }
untimed_report() { awk -F'|' 'BEGIN { OFS = "|" } /^\| (dense|uniform|random|nasprune) \|/ { $6 = " – " } { print }' "$1"; }
(cd "$REF" && find . -type f | sort) >"$LOGS/ref-files"
(cd "$CRASH" && find . -type f | sort) >"$LOGS/crash-files"
diff "$LOGS/ref-files" "$LOGS/crash-files" >"$LOGS/file-list.diff" || note "the file lists (see $LOGS/file-list.diff)"
compared=0
while read -r f; do
  [ -f "$CRASH/$f" ] || continue
  compared=$((compared + 1))
  case "$f" in
    *.json) cmp -s <(untimed_json "$REF/$f") <(untimed_json "$CRASH/$f") || note "$f" ;;
    ./report.md) cmp -s <(untimed_report "$REF/$f") <(untimed_report "$CRASH/$f") || note "$f" ;;
    *.parquet) ;;  # compared per directory below
    *.zip) cmp -s <(unzip -p "$REF/$f") <(unzip -p "$CRASH/$f") || note "$f" ;;
    *) cmp -s "$REF/$f" "$CRASH/$f" || note "$f" ;;
  esac
done <"$LOGS/ref-files"
for dir in pairs random; do
  [ -d "$REF/$dir" ] || continue
  "${CLI[@]}" pairs compare "$REF/$dir" "$CRASH/$dir" >"$LOGS/compare-$dir.out" 2>&1 || note "$dir/ pair values (see $LOGS/compare-$dir.out)"
  "${CLI[@]}" pairs validate "$CRASH/$dir" >"$LOGS/validate-$dir.out" 2>&1 || note "$dir/ does not validate"
done

summary="crash test: $(basename "$CONFIG"), kill seed $KILL_SEED, sleeps 2-${MAX_SLEEP}s
  kills:      $kills of $KILLS attempts$([ "$finished_early" = 1 ] && echo ' (an attempt finished before its kill)')
  landed in:  $(printf '%s\n' "${stages[@]}" | sort | uniq -c | awk '{ printf "%s%s ×%s", (NR > 1 ? ", " : ""), $2, $1 }')
  files:      $(wc -l <"$LOGS/ref-files") in the reference, $compared compared, $mismatches differing
  time:       reference ${t_ref}s; kill/rerun phase through the final run ${t_crash}s"
echo "$summary"
[ "$mismatches" = 0 ] || fail "$mismatches differences"
[ "$kills" -ge "$KILLS" ] || fail "only $kills kills landed (the run finished first); raise KILLS or lower the sleeps"
echo "PASS"
