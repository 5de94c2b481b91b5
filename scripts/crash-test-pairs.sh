#!/usr/bin/env bash
# Crash test for `nasprune sample`: a small real campaign on the embedded model is killed with SIGKILL KILLS times at
# seeded random moments and resumed with --resume each time; then the final run finishes it. PASS needs: the pairs
# equal those of an uninterrupted run with the same seed (`nasprune pairs compare`: same ids, same values), no row
# twice, the expected number of rows, every part file readable (`nasprune pairs validate`, which reads each file with
# Parquet.Net and DuckDB), and one more --resume of the finished campaign adding nothing.
#
#   scripts/crash-test-pairs.sh                         # 20 kills, --count 40 --windows 4 (~5 minutes on 2 idle CPUs)
#   KILLS=5 COUNT=12 KEEP=1 scripts/crash-test-pairs.sh
#
# Kill moments: most kills come after a random sleep in [MIN_SLEEP, MAX_SLEEP] seconds from the start of the attempt
# (bash's RANDOM seeded with KILL_SEED: the same draws every run; MAX_SLEEP defaults to the reference run's start-up
# plus 6 pairs, so the schedule scales with the machine's speed) and land in start-up or mid-evaluation; every
# WRITE_EVERY-th kill instead watches (inotifywait) for the attempt's 1st, 2nd or 3rd part-file write (its temporary
# file appearing) and kills at once, aiming at the middle of a write. A kill counts as "mid-write" when it left a
# temporary part file behind (the atomic write was cut between create and rename).
#
# Settings (environment): COUNT (40), WINDOWS (4), SEED (1234: the campaign), KILLS (20), KILL_SEED (7),
# MIN_SLEEP (0.5), MAX_SLEEP (see above), WRITE_EVERY (4; 0 = timer kills only), CRASH_TEST_DIR (a new
# /tmp/nasprune-crash-test.* folder), KEEP (0: 1 keeps it), SAMPLE_ARGS (extra `nasprune sample` options),
# NASPRUNE (the CLI command; default: build and run the Release DLL).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COUNT="${COUNT:-40}" WINDOWS="${WINDOWS:-4}" SEED="${SEED:-1234}" KILLS="${KILLS:-20}" KILL_SEED="${KILL_SEED:-7}"
MIN_SLEEP="${MIN_SLEEP:-0.5}" MAX_SLEEP="${MAX_SLEEP:-}" WRITE_EVERY="${WRITE_EVERY:-4}" KEEP="${KEEP:-0}"
read -r -a EXTRA <<< "${SAMPLE_ARGS:-}"
SAMPLE=(--count "$COUNT" --windows "$WINDOWS" --seed "$SEED" "${EXTRA[@]}")

log() { echo "[crash-test $(date +%T)] $*" >&2; }
fail() { log "FAIL: $*"; echo "FAIL"; exit 1; }

source "$ROOT/scripts/crash-test-common.sh"
require_tools inotifywait:inotify-tools jq:jq
build_cli
make_workdir nasprune-crash-test
cd "$ROOT"

part_files() { { find "$1" -name 'part-*.parquet' 2>/dev/null || true; } | wc -l; }
temp_files() { { find "$1" -name '.*.tmp' 2>/dev/null || true; } | wc -l; }
# Rows and duplicated ids in a pairs directory, as the CLI counts them (`pairs list --json`); "?" when unreadable.
row_count() { "${CLI[@]}" pairs list "$1" --json 2>/dev/null | jq -r '.rows' 2>/dev/null || echo "?"; }
dup_count() { "${CLI[@]}" pairs list "$1" --json 2>/dev/null | jq -r '.rows - .distinct_architectures' 2>/dev/null || echo "?"; }

# --- 1. The uninterrupted reference ----------------------------------------------------------------------------------
log "reference: sample --out $REF ${SAMPLE[*]}"
t0=$(now)
"${CLI[@]}" sample --out "$REF" "${SAMPLE[@]}" --json >"$LOGS/reference.json" 2>"$LOGS/reference.out" \
  || { tail -n 20 "$LOGS/reference.out" >&2; fail "the reference run failed"; }
t_ref=$(since "$t0")
setup_s=$(jq -r '.setup_seconds' "$LOGS/reference.json") pair_s=$(jq -r '3600 / .pairs_per_hour' "$LOGS/reference.json")
# Kill moments scale with this machine's speed: up to start-up plus ~6 pairs, so about half the timer kills land in
# start-up and the others after a few rows, and the campaign advances through the kills instead of all at the end.
[ -n "$MAX_SLEEP" ] || MAX_SLEEP=$(awk -v s="$setup_s" -v p="$pair_s" 'BEGIN { printf "%.1f", s + 6 * p }')
log "reference done in ${t_ref}s (start-up $(printf %.1f "$setup_s")s, $(printf %.2f "$pair_s")s a pair); kill sleeps ${MIN_SLEEP}-${MAX_SLEEP}s"

# --- 2. Kill, resume, kill, ... ---------------------------------------------------------------------------------------
# A killer runs beside each attempt: a timer (sleep, then kill -9) or a watch for the attempt's next temporary part
# file (kill -9 the moment it appears). The attempt is the CLI process itself, so the SIGKILL hits it directly.
stop_killer() { kill $(pgrep -P "$1" 2>/dev/null) "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
RANDOM="$KILL_SEED"
kills=0 timer_kills=0 write_aimed=0 at_startup=0 mid_eval=0 mid_write=0 finished_early=0
t0=$(now)
for k in $(seq 1 "$KILLS"); do
  temps_before=$(temp_files "$CRASH")
  mode=timer
  [ "$WRITE_EVERY" != 0 ] && [ $((k % WRITE_EVERY)) = 0 ] && mode=write
  # Draw the sleep every time, so the schedule of timer kills does not depend on the write-aimed ones.
  draw=$(( (RANDOM * 32768 + RANDOM) % 1000001 ))
  sleep_s=$(awk -v a="$MIN_SLEEP" -v b="$MAX_SLEEP" -v d="$draw" 'BEGIN { printf "%.3f", a + (b - a) * d / 1000000 }')
  "${CLI[@]}" sample --out "$CRASH" --resume "${SAMPLE[@]}" >"$LOGS/attempt-$k.out" 2>&1 &
  pid=$!
  if [ "$mode" = write ]; then
    # Kill at the attempt's nth part write (n = 1..3 from the draw), so aimed kills also let some rows land first.
    # Start-up (load, importance) takes seconds before the first part write, so the watch is in place in time.
    nth=$(( draw % 3 + 1 ))
    { inotifywait -m -q -r -t 900 -e create --format '%w%f' --include '/crashed/.*part-[0-9]+\.parquet\.[0-9a-f]+\.tmp$' "$WORK" 2>/dev/null \
        | { for _ in $(seq 1 "$nth"); do read -r _ || exit 0; done; kill -9 "$pid" 2>/dev/null; }; } &
  else
    { sleep "$sleep_s"; kill -9 "$pid" 2>/dev/null; } &
  fi
  killer=$!
  { wait "$pid"; } 2>/dev/null && rc=0 || rc=$?   # (quiet: no "Killed" line from bash)
  stop_killer "$killer"
  if [ "$rc" = 137 ]; then
    kills=$((kills + 1))
    if [ "$mode" = write ]; then write_aimed=$((write_aimed + 1)); else timer_kills=$((timer_kills + 1)); fi
    temps_after=$(temp_files "$CRASH")
    # Where it landed: a temporary part file left behind = cut mid-write; no progress line yet = still in start-up
    # (model load, importance, tokenizing, sampling); else between writes, i.e. mid-evaluation.
    if [ "$temps_after" -gt "$temps_before" ]; then where=mid-write; mid_write=$((mid_write + 1))
    elif ! grep -q '^pairs ' "$LOGS/attempt-$k.out"; then where=start-up; at_startup=$((at_startup + 1))
    else where=mid-evaluation; mid_eval=$((mid_eval + 1)); fi
    log "kill $k ($([ "$mode" = timer ] && echo "timer, after ${sleep_s}s" || echo "at write $nth")): $where; part files $(part_files "$CRASH"), temp files left $temps_after"
  elif [ "$rc" = 0 ]; then
    finished_early=$((finished_early + 1))
    log "attempt $k ($mode) finished before its kill"
  else
    tail -n 20 "$LOGS/attempt-$k.out" >&2; fail "attempt $k exited $rc without being killed"
  fi
done
t_kills=$(since "$t0")

# --- 3. The final run, then one more resume that must add nothing -------------------------------------------------
log "final run: sample --out $CRASH --resume ${SAMPLE[*]}"
"${CLI[@]}" sample --out "$CRASH" --resume "${SAMPLE[@]}" >"$LOGS/final.out" 2>&1 || { tail -n 20 "$LOGS/final.out" >&2; fail "the final resumed run failed"; }
t_total=$(since "$t0")
snapshot() { (cd "$CRASH" && find . -name 'part-*.parquet' -exec sha256sum {} + | sort); }
before="$(snapshot)"
"${CLI[@]}" sample --out "$CRASH" --resume "${SAMPLE[@]}" >"$LOGS/extra-resume.out" 2>&1 || { tail -n 20 "$LOGS/extra-resume.out" >&2; fail "a resume of the finished campaign failed"; }
[ "$(snapshot)" = "$before" ] || fail "a resume of the finished campaign changed the part files"

# --- 4. Checks --------------------------------------------------------------------------------------------------------
ok=1
"${CLI[@]}" pairs validate "$CRASH" >"$LOGS/validate.out" 2>&1 || { cat "$LOGS/validate.out" >&2; log "pairs validate failed"; ok=0; }
"${CLI[@]}" pairs validate "$REF" >"$LOGS/validate-ref.out" 2>&1 || { cat "$LOGS/validate-ref.out" >&2; log "pairs validate (reference) failed"; ok=0; }
"${CLI[@]}" pairs compare "$CRASH" "$REF" >"$LOGS/compare.out" 2>&1 || { cat "$LOGS/compare.out" >&2; log "pairs compare: crashed and reference differ"; ok=0; }
rows=$(row_count "$CRASH") rows_ref=$(row_count "$REF")
# Duplicates twice over: rows minus distinct ids, and what `pairs merge` drops when it deduplicates.
dups=$(dup_count "$CRASH")
"${CLI[@]}" pairs merge "$CRASH" --out "$WORK/merged.parquet" --json >"$LOGS/merge.out" 2>"$LOGS/merge.err" || { cat "$LOGS/merge.err" >&2; log "pairs merge failed"; ok=0; }
merge_dups=$(jq -r '.duplicates' "$LOGS/merge.out" 2>/dev/null || echo "?")
[ "$rows" = "$COUNT" ] || { log "rows $rows, expected $COUNT"; ok=0; }
[ "$rows_ref" = "$COUNT" ] || { log "reference rows $rows_ref, expected $COUNT"; ok=0; }
[ "$dups" = 0 ] && [ "$merge_dups" = 0 ] || { log "duplicated ids: $dups (rows - distinct), $merge_dups (dropped by merge)"; ok=0; }
leftover=$(temp_files "$CRASH")
leftover_sizes=$({ find "$CRASH" -name '.*.tmp' -printf '%s\n' 2>/dev/null || true; } | sort -n | paste -sd, -)
present_at_final=$(grep -o '[0-9]* already present' "$LOGS/final.out" | cut -d' ' -f1 || echo "?")

cat <<EOF
crash test: count $COUNT, windows $WINDOWS, seed $SEED, kill seed $KILL_SEED, sleeps ${MIN_SLEEP}-${MAX_SLEEP}s
  kills:            $kills of $KILLS attempts ($timer_kills timer, $write_aimed aimed at a write; $finished_early attempts finished before their kill)
  landed:           $at_startup in start-up, $mid_eval mid-evaluation, $mid_write mid-write (left a temporary part file)
  rows:             $rows (reference $rows_ref, expected $COUNT), duplicated ids: $dups (merge drops $merge_dups)
  rows before the final run: $present_at_final (landed across the killed attempts)
  temp files left:  $leftover, sizes ${leftover_sizes:-none} bytes (hidden .*.tmp from cut writes, ignored by readers)
  time:             reference ${t_ref}s; kill/resume phase ${t_kills}s; through the final run ${t_total}s
EOF
[ "$ok" = 1 ] || fail "see above"
echo "PASS"
