#!/usr/bin/env bash
# Runs experiments/slurm/sample-array.sbatch for real on a one-node Slurm on this machine and checks that the job array
# writes the same pairs as one worker. Steps: install slurm-wlm + munge from Debian if missing (idempotent), start
# munged, slurmctld and slurmd on localhost (private config, ports and state under a temporary folder; no systemd),
# submit an array of WORKERS tasks, requeue one task while it runs (it must continue with --resume), wait, run one
# worker with the same seed, then `nasprune pairs validate` both and `nasprune pairs compare` them.
# Prints PASS or FAIL; the exit code is non-zero on failure. The daemons are stopped on exit.
#
#   scripts/slurm-local-test.sh                      # 3 workers, --count 12, --windows 4, one requeue (~ minutes on 2 CPUs)
#   WORKERS=4 COUNT=20 REQUEUE=0 KEEP=1 scripts/slurm-local-test.sh
#
# Settings (environment): WORKERS (3), COUNT (12), WINDOWS (4), SEED (1234), REQUEUE (1: requeue task 1 mid-run),
# SLURM_TEST_CPUS (2: CPUs the local node offers), SLURM_TEST_PORT (16817: slurmctld port, slurmd uses +1),
# SLURM_TEST_DIR (a new /tmp/nasprune-slurm-test.* folder), KEEP (0: 1 keeps that folder), SAMPLE_ARGS (extra
# `nasprune sample` options for both runs, e.g. "--criterion magnitude"), NASPRUNE (the CLI command; default: build
# and run the Release DLL).
#
# The shipped sbatch file asks for --gres=gpu:1 --cpus-per-task=4 --mem=32G (a GPU cluster). This node has no GPU gres,
# so the test overrides those directives on the sbatch command line: --gres=none --cpus-per-task=1 --mem=1G.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKERS="${WORKERS:-3}" COUNT="${COUNT:-12}" WINDOWS="${WINDOWS:-4}" SEED="${SEED:-1234}" REQUEUE="${REQUEUE:-1}"
CPUS="${SLURM_TEST_CPUS:-2}" PORT="${SLURM_TEST_PORT:-16817}" KEEP="${KEEP:-0}"
read -r -a EXTRA <<< "${SAMPLE_ARGS:-}"
SAMPLE=(--count "$COUNT" --windows "$WINDOWS" --seed "$SEED" "${EXTRA[@]}")

log() { echo "[slurm-local-test $(date +%T)] $*" >&2; }
fail() { log "FAIL: $*"; echo "FAIL"; exit 1; }

# --- 1. Slurm, munge (and jq) from Debian's packages ------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null \
   || ! command -v jq >/dev/null; then
  log "installing slurm-wlm, munge and jq (apt)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q --no-install-recommends slurm-wlm munge jq >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends slurm-wlm munge jq >/dev/null; }
fi
# The daemons here run as root (SlurmUser=root), as in a container; a non-root user would need a real installation.
[ "$(id -u)" -eq 0 ] || fail "run as root: this script starts slurmctld/slurmd/munged itself"

# --- 2. The CLI, built once: the array tasks and the single worker all run this one build --------------------------
if [ -z "${NASPRUNE:-}" ]; then
  source "$ROOT/scripts/ensure-dotnet.sh"
  log "building the CLI (Release)"
  nice -n 10 dotnet build "$ROOT/src/Cli/NasPrune.Cli.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
  NASPRUNE="dotnet $ROOT/src/Cli/bin/Release/net10.0/nasprune.dll"
fi
export NASPRUNE
read -r -a CLI <<< "$NASPRUNE"

# --- 3. A private one-node cluster -----------------------------------------------------------------------------------
WORK="${SLURM_TEST_DIR:-$(mktemp -d /tmp/nasprune-slurm-test.XXXXXX)}"
mkdir -p "$WORK"/{munge,state,spool,log,jobs}
WORK="$(cd "$WORK" && pwd)"
[ -z "$(ls -A "$WORK/state")" ] || fail "$WORK/state is not empty (a previous run?); use a fresh SLURM_TEST_DIR"
HOST="$(hostname -s)"
export SLURM_CONF="$WORK/slurm.conf"

stop_cluster() {
  local f pid
  for f in "$WORK/slurmd.pid" "$WORK/slurmctld.pid"; do
    if [ -s "$f" ]; then
      pid="$(cat "$f")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
  done
  munged --socket="$WORK/munge/munge.socket" --stop >/dev/null 2>&1 || true
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap stop_cluster EXIT

for p in "$PORT" "$((PORT + 1))"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p is in use (another Slurm?); set SLURM_TEST_PORT"; fi
done

# munged as root with its own key and socket, so an existing munge installation is left alone.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 0755 "$WORK/munge"; chmod 0400 "$WORK/munge/munge.key"
munged --force --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/munge.socket" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/log/munged.log" --seed-file="$WORK/munge/munged.seed"

MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
cat > "$SLURM_CONF" <<EOF
# Written by scripts/slurm-local-test.sh: one node (this machine), no accounting, no cgroups (containers lack them).
ClusterName=nasprunetest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/munge.socket
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
log "starting slurmctld and slurmd ($WORK)"
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  sinfo -h -o %t 2>/dev/null | grep -qx idle && break
  sleep 1
done
sinfo -h -o %t | grep -qx idle || { tail -n 20 "$WORK/log/slurmctld.log" "$WORK/log/slurmd.log" >&2; fail "the local node did not come up idle"; }

# --- 4. The job array ------------------------------------------------------------------------------------------------
ARRAY_OUT="$WORK/pairs-array" SINGLE_OUT="$WORK/pairs-single"
t0=$(date +%s)
JOB=$(cd "$ROOT" && sbatch --parsable --array=0-$((WORKERS - 1)) --gres=none --cpus-per-task=1 --mem=1G \
        --output="$WORK/jobs/%A_%a.out" experiments/slurm/sample-array.sbatch --out "$ARRAY_OUT" "${SAMPLE[@]}")
JOB="${JOB%%;*}"
log "submitted array job $JOB ($WORKERS tasks): sample --out $ARRAY_OUT ${SAMPLE[*]}"

task_state() { scontrol -o show job "${JOB}_$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n1 | cut -d= -f2; }
rows_in() { { find "$1" -name 'part-*.parquet' 2>/dev/null || true; } | wc -l; }

requeued=0
if [ "$REQUEUE" = 1 ] && [ "$WORKERS" -ge 2 ]; then
  # Requeue task 1 once it has written its first part file and is still running: the requeued run must --resume.
  for _ in $(seq 1 1200); do
    state="$(task_state 1)"
    if [ "$state" = RUNNING ] && [ "$(rows_in "$ARRAY_OUT/shard-1-of-$WORKERS")" -gt 0 ]; then
      scontrol requeue "${JOB}_1"
      requeued=1
      log "requeued task ${JOB}_1 mid-run"
      break
    fi
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL) break ;; esac
    sleep 0.5
  done
  [ "$requeued" = 1 ] || log "warning: task 1 ended before it could be requeued (no requeue tested)"
fi

while squeue -h -j "$JOB" 2>/dev/null | grep -q .; do
  # Slurm holds a requeued job for a while (BeginTime); let it start again at once.
  if squeue -h -j "$JOB" -o '%i %r' | grep -q BeginTime; then
    for id in $(squeue -h -j "$JOB" -o '%i %r' | awk '$2 == "BeginTime" {print $1}'); do
      scontrol update jobid="$id" StartTime=now >/dev/null 2>&1 || true
    done
  fi
  sleep 2
done
t_array=$(( $(date +%s) - t0 ))

ok=1
for i in $(seq 0 $((WORKERS - 1))); do
  line="$(scontrol -o show job "${JOB}_$i")"
  state="$(grep -o 'JobState=[A-Z_]*' <<< "$line" | cut -d= -f2)"
  code="$(grep -o ' ExitCode=[0-9:]*' <<< "$line" | cut -d= -f2)"
  restarts="$(grep -o 'Restarts=[0-9]*' <<< "$line" | cut -d= -f2)"
  log "task ${JOB}_$i: $state exit $code restarts $restarts"
  [ "$state" = COMPLETED ] && [ "$code" = 0:0 ] || ok=0
done
if [ "$ok" != 1 ]; then
  for f in "$WORK"/jobs/*.out; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  fail "an array task did not complete"
fi
if [ "$requeued" = 1 ]; then
  r="$(scontrol -o show job "${JOB}_1" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)"
  [ "$r" -ge 1 ] || fail "task 1 was requeued but Slurm reports no restart"
fi
log "array done in ${t_array}s"

# --- 5. One worker, same seed ----------------------------------------------------------------------------------------
t0=$(date +%s)
log "single worker: sample --out $SINGLE_OUT ${SAMPLE[*]}"
(cd "$ROOT" && OMP_NUM_THREADS=1 "${CLI[@]}" sample --out "$SINGLE_OUT" "${SAMPLE[@]}" >"$WORK/jobs/single.out" 2>&1) \
  || { tail -n 20 "$WORK/jobs/single.out" >&2; fail "the single worker failed"; }
t_single=$(( $(date +%s) - t0 ))
log "single worker done in ${t_single}s"

# --- 6. Same pairs? --------------------------------------------------------------------------------------------------
"${CLI[@]}" pairs validate "$ARRAY_OUT" >&2 || fail "pairs validate $ARRAY_OUT"
"${CLI[@]}" pairs validate "$SINGLE_OUT" >&2 || fail "pairs validate $SINGLE_OUT"
"${CLI[@]}" pairs compare "$ARRAY_OUT" "$SINGLE_OUT" >&2 || fail "pairs compare: the array and the single worker differ"
rows_array=$("${CLI[@]}" pairs list "$ARRAY_OUT" --json | jq -r '.rows')
distinct_array=$("${CLI[@]}" pairs list "$ARRAY_OUT" --json | jq -r '.distinct_architectures')
[ "$rows_array" = "$COUNT" ] && [ "$distinct_array" = "$COUNT" ] || fail "the array wrote $rows_array rows ($distinct_array distinct), expected $COUNT"

log "workers $WORKERS, count $COUNT, windows $WINDOWS, seed $SEED, requeued $requeued, array ${t_array}s, single ${t_single}s, rows $rows_array"
echo "PASS"
