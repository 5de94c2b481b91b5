#!/usr/bin/env bash
# Every stage of NasPrune on real model shapes with random weights (nasprune synth), small settings, one shape at a
# time: wall time and peak resident memory (/usr/bin/time -v) per stage.
#
#   experiments/scale/run.sh [SHAPE ...]     (default: embedded smollm-135m qwen2.5-0.5b qwen3-0.6b tinyllama-1.1b)
#
# "embedded" is the 7M model in data/models; every other name is a `nasprune synth --shape`. Checkpoints go to
# $SCALE_WORK (default /tmp/nasprune-scale), results to experiments/scale/results/<shape>.tsv and logs/<shape>/.
# The binaries are copied once to $SCALE_WORK/bin, so editing sources during a run does not rebuild mid-run.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${SCALE_WORK:-/tmp/nasprune-scale}"
OUT="$ROOT/experiments/scale/results"
SEQ="${SCALE_SEQ_LEN:-256}"            # window length of every calibration and evaluation window
CAL="${SCALE_CALIBRATION:-4}"          # importance calibration windows
CRITERIA="${SCALE_CRITERIA:-magnitude activation output-approx taylor}"
# Stages to run (default all); e.g. SCALE_SKIP="sample predictor-synthetic-pairs predictor-train" on a busy machine.
SKIP=" ${SCALE_SKIP:-} "
mkdir -p "$WORK" "$OUT"
"$ROOT/nasprune" --help >/dev/null      # build once
rm -rf "$WORK/bin" && cp -r "$ROOT/src/Cli/bin/Release/net10.0" "$WORK/bin"
export NASPRUNE_DATA="$ROOT/data"
NP=(dotnet "$WORK/bin/nasprune.dll")

shapes=("$@")
[ ${#shapes[@]} -eq 0 ] && shapes=(embedded smollm-135m qwen2.5-0.5b qwen3-0.6b tinyllama-1.1b)

for shape in "${shapes[@]}"; do
  tsv="$OUT/$shape.tsv"; logs="$OUT/logs/$shape"; mkdir -p "$logs"
  # A stage that runs replaces its own row; rows of stages skipped this time stay (SCALE_SKIP re-runs a few stages).
  [ -f "$tsv" ] || printf 'shape\tstage\texit\twall_s\tmax_rss_kib\tload_avg\tcommand\n' > "$tsv"
  stage() { # stage NAME command...
    local name="$1"; shift
    if [[ "$SKIP" == *" $name "* ]]; then echo "[$shape] $name: skipped (SCALE_SKIP)" >&2; return 0; fi
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v -o "$logs/$name.time" "$@" >"$logs/$name.out" 2>"$logs/$name.err"
    local rc=$?
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$logs/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$logs/$name.time")
    awk -F'\t' -v s="$name" 'NR == 1 || $2 != s' "$tsv" > "$tsv.tmp" && mv "$tsv.tmp" "$tsv"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$shape" "$name" "$rc" "$wall" "$rss" "$load" "${*//$WORK/\$WORK}" >> "$tsv"
    echo "[$shape] $name: exit $rc, ${wall}s, max RSS ${rss} KiB (load average $load)" >&2
    return $rc
  }
  if [ "$shape" = embedded ]; then
    model="$ROOT/data/models/nasprune-tiny-llama"
  else
    model="$WORK/$shape"
    [[ "$SKIP" == *" synth "* ]] || rm -rf "$model"   # a skipped synth keeps the checkpoint already there
    stage synth "${NP[@]}" synth --shape "$shape" --out "$model" --json || continue
  fi
  rm -rf "$model/.nasprune" "$WORK/$shape-pairs" "$WORK/$shape-synth-pairs" "$WORK/$shape-pruned" "$WORK/$shape-gguf" "$WORK/$shape-predictor".*
  stage info "${NP[@]}" info --model "$model" --json
  stage eval "${NP[@]}" eval --model "$model" --task wikitext2 --split validation --seq-len "$SEQ" --max-windows 2 --json
  for c in $CRITERIA; do
    stage "importance-$c" "${NP[@]}" importance --model "$model" --criterion "$c" --calibration-sequences "$CAL" --seq-len "$SEQ" --json
  done
  stage sample "${NP[@]}" sample --model "$model" --out "$WORK/$shape-pairs" --count 3 --windows 2 --seq-len "$SEQ" \
    --calibration-sequences "$CAL" --criterion activation --measure both --json
  stage predictor-synthetic-pairs "${NP[@]}" predictor synthetic-pairs --model "$model" --count 400 --out "$WORK/$shape-synth-pairs"
  stage predictor-train "${NP[@]}" predictor train --model "$model" --pairs "$WORK/$shape-synth-pairs" --out "$WORK/$shape-predictor.zip" \
    --folds 3 --curve-sizes 100 200 --curve-repeats 1 --json
  stage export-hf "${NP[@]}" prune --model "$model" --uniform --remove 0.2 --criterion activation --calibration-sequences "$CAL" \
    --seq-len "$SEQ" --eval-windows 1 --out "$WORK/$shape-pruned" --json
  stage eval-exported "${NP[@]}" eval --model "$WORK/$shape-pruned" --task wikitext2 --split validation --seq-len "$SEQ" --max-windows 2 --json
  stage export-gguf "${NP[@]}" prune --model "$model" --uniform --remove 0.2 --criterion activation --calibration-sequences "$CAL" \
    --seq-len "$SEQ" --eval-windows 1 --format gguf --out "$WORK/$shape-gguf" --json
  # llama.cpp runs the GGUF file: the same ids on the whole validation split, logits and perplexity against the
  # Hugging Face export of the same cut (identical weights), exit 1 if they differ beyond F32 tolerances.
  stage gguf-check "${NP[@]}" gguf-check --gguf "$WORK/$shape-gguf/model.gguf" --model "$WORK/$shape-pruned" --seq-len "$SEQ" \
    --max-windows 1 --json
  sed -e "s|^model: .*|model: $model|" -e "s|^seq_len: .*|seq_len: $SEQ|" -e "s|^  calibration_sequences: .*|  calibration_sequences: $CAL|" "$ROOT/experiments/scale/campaign.yaml" > "$WORK/$shape-campaign.yaml"
  rm -rf "$WORK/$shape-campaign"
  stage campaign "${NP[@]}" campaign --config "$WORK/$shape-campaign.yaml" --out "$WORK/$shape-campaign" --json && {
    cp "$WORK/$shape-campaign/timings.json" "$logs/campaign-timings.json"; cp "$WORK/$shape-campaign/report.md" "$logs/campaign-report.md"; }
  stage generate "${NP[@]}" generate --model "$model" --prompt "The history of the city" --max-new-tokens 8 --temperature 0 --json
  [ "$shape" != embedded ] && [ -z "${SCALE_KEEP:-}" ] && rm -rf "$WORK/$shape-pruned" "$WORK/$shape-gguf"
done
