# Shared set-up of the crash tests (scripts/crash-test-pairs.sh, scripts/crash-test-campaign.sh); sourced after the
# caller has defined log and fail and set ROOT and KEEP.

# Installs the Debian packages of any missing command: require_tools jq:jq unzip:unzip ...
require_tools() {
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  [ "${#missing[@]}" -eq 0 ] && return
  log "installing ${missing[*]} (apt)"
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

# One build up front (unless NASPRUNE names the CLI command); every attempt then runs the DLL directly, so the SIGKILL
# hits the CLI process itself. Sets the CLI array.
build_cli() {
  if [ -z "${NASPRUNE:-}" ]; then
    source "$ROOT/scripts/ensure-dotnet.sh"
    log "building the CLI (Release)"
    nice -n 10 dotnet build "$ROOT/src/Cli/NasPrune.Cli.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
    NASPRUNE="dotnet $ROOT/src/Cli/bin/Release/net10.0/nasprune.dll"
  fi
  read -r -a CLI <<< "$NASPRUNE"
}

# The work folder (CRASH_TEST_DIR or a new /tmp/<prefix>.* folder) with reference/, crashed/ and logs/; removed at
# exit unless KEEP=1. Sets WORK, REF, CRASH and LOGS.
make_workdir() {
  WORK="${CRASH_TEST_DIR:-$(mktemp -d "/tmp/$1.XXXXXX")}"
  mkdir -p "$WORK"; WORK="$(cd "$WORK" && pwd)"
  REF="$WORK/reference" CRASH="$WORK/crashed" LOGS="$WORK/logs"
  [ ! -e "$REF" ] && [ ! -e "$CRASH" ] || fail "$WORK already holds a run; use a fresh CRASH_TEST_DIR"
  mkdir -p "$LOGS"
  trap 'if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi' EXIT
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
