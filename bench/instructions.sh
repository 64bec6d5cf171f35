#!/usr/bin/env bash
# Instructions per request on the token hot paths, counted by valgrind's callgrind: the same
# build gives the same count on any load, so a regression shows where wall-clock figures on
# these shared machines drown it in noise.
#   bash bench/instructions.sh [--check | --update] [--keep DIR] [BINARY]
#     (nothing)   print the count of each scenario
#     --check     also compare with bench/instructions.baseline: exit 1 if a scenario grew by
#                 more than TOLERANCE percent (15), and say so if one shrank by more
#     --update    rewrite bench/instructions.baseline with the counts measured
#     --keep DIR  keep each scenario's callgrind data as DIR/SCENARIO.callgrind (bench/profile.sh)
#     BINARY      default: $CARGO_TARGET_DIR/release/gatehouse (build: cargo build --release)
#   REQUESTS=N (default 500) requests measured per scenario, after WARMUP=N (default 200).
# Scenarios, on the embedded default (SQLite + memory), one worker, one keep-alive connection,
# requests sent one after another by a client outside valgrind:
#   token       client_credentials at the token endpoint (client_secret_basic)
#   introspect  RFC 7662 introspection of a live JWT access token, by the same client
# Background work is pushed out of the measured window (the change feed read once a second,
# key maintenance once a day), so the count is the requests' own: total Ir / REQUESTS.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$PWD
baseline="$root/bench/instructions.baseline"
tolerance="${TOLERANCE:-15}"
requests="${REQUESTS:-500}"
warmup="${WARMUP:-200}"
mode=report
keep=""
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --update) mode=update ;;
    --keep) keep="$(mkdir -p "$2" && realpath "$2")"; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) bin="$1" ;;
  esac
  shift
done
. bench/lib.sh
bin="$(bench_binary "$bin")"
command -v callgrind_control >/dev/null || { echo "install valgrind: apt-get install -y valgrind" >&2; exit 1; }

bench_workdir
port=$(bench_free_port)
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_SERVER__WORKERS=1 GATEHOUSE_SERVER__SHUTDOWN_TIMEOUT_SECS=1
export GATEHOUSE_CACHE__POLL_INTERVAL_MS=1000 GATEHOUSE_CACHE__CLIENT_TTL_SECS=86400
export GATEHOUSE_KEYS__REFRESH_INTERVAL_SECS=86400
bench_client "$bin" instructions

# Uninstrumented until told: start-up (key generation) and warm-up run at near native speed.
bench_serve "http://127.0.0.1:$port/readyz" server.log \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$bin" serve

# Sends N requests of a scenario over one keep-alive connection; fails on an unexpected answer.
cat >drive.py <<'PY'
import base64, http.client, json, sys

port, client_id, secret, scenario, count = sys.argv[1:6]
basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
connection = http.client.HTTPConnection("127.0.0.1", int(port))


def post(path, body):
    connection.request("POST", path, body, headers)
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        sys.exit(f"{path}: HTTP {response.status}: {payload[:200]!r}")
    return json.loads(payload)


grant = "grant_type=client_credentials&scope=read"
if scenario == "token":
    for _ in range(int(count)):
        post("/oauth2/token", grant)
elif scenario == "introspect":
    with open("token") as f:
        body = "token=" + f.read().strip()
    for _ in range(int(count)):
        if not post("/oauth2/introspect", body)["active"]:
            sys.exit("introspection: the token is not active")
elif scenario == "mint":
    print(post("/oauth2/token", grant)["access_token"])
PY
drive() { python3 drive.py "$port" "$id" "$secret" "$@"; }
control() { callgrind_control "$@" "$server" >/dev/null 2>&1; }

now() { date +%s.%N; }
# Runs a command with instrumentation on; prints the Ir counted and the seconds it took.
window() {
  local name=$1 dump started
  shift
  control --zero
  started=$(now)
  control --instr=on
  "$@"
  control --instr=off
  rm -f "$work"/callgrind.out.*
  control --dump="$name"
  dump=$(ls "$work"/callgrind.out.* | head -n 1)
  [ -n "$keep" ] && cp "$dump" "$keep/$name.callgrind"
  echo "$(awk '$1 == "totals:" { print $2; exit }' "$dump") $(awk -v a="$started" -v b="$(now)" 'BEGIN { print b - a }')"
}

drive mint 1 >token
drive token "$warmup"
# What the idle server runs meanwhile (the change-feed read each second, timers): counted over
# IDLE_SECONDS and subtracted in proportion to each window's length, so a slow (loaded) machine,
# whose windows last longer, does not count more per request.
idle=$(window idle sleep "${IDLE_SECONDS:-5}")
read -r idle_ir idle_seconds <<<"$idle"
declare -A measured
for scenario in token introspect; do
  drive "$scenario" "$warmup"
  counted=$(window "$scenario" drive "$scenario" "$requests")
  read -r ir seconds <<<"$counted"
  measured[$scenario]=$(awk -v ir="$ir" -v s="$seconds" -v ii="$idle_ir" -v is="$idle_seconds" \
    -v n="$requests" 'BEGIN { printf "%.0f", (ir - ii / is * s) / n }')
done
background=$(awk -v ii="$idle_ir" -v is="$idle_seconds" 'BEGIN { printf "%.0f", ii / is }')
echo "instructions per request ($requests requests each, callgrind, $(basename "$bin");" \
  "$background Ir/s of background work subtracted):"
printf '  %-11s %s\n' token "${measured[token]}" introspect "${measured[introspect]}"

case "$mode" in
  update)
    {
      echo "# Instructions per request, from: bash bench/instructions.sh --update"
      echo "# (callgrind, release build, embedded default; --check allows +${tolerance}%)"
      for scenario in token introspect; do echo "$scenario ${measured[$scenario]}"; done
    } >"$baseline"
    echo "wrote $baseline"
    ;;
  check)
    [ -f "$baseline" ] || { echo "no baseline: run bash bench/instructions.sh --update" >&2; exit 1; }
    failed=0
    for scenario in token introspect; do
      base=$(awk -v s="$scenario" '$1 == s { print $2 }' "$baseline")
      [ -n "$base" ] || { echo "$scenario: not in $baseline" >&2; failed=1; continue; }
      now=${measured[$scenario]}
      change=$(awk -v n="$now" -v b="$base" 'BEGIN { printf "%+.1f", (n - b) * 100 / b }')
      line="$scenario: $now instructions per request, baseline $base ($change%)"
      if awk -v c="$change" -v t="$tolerance" 'BEGIN { exit !(c > t) }'; then
        echo "FAIL $line: more than +$tolerance%. Find the cause (bash bench/profile.sh);" \
          "if the cost is wanted, run bash bench/instructions.sh --update and commit the baseline"
        failed=1
      elif awk -v c="$change" -v t="$tolerance" 'BEGIN { exit !(c < -t) }'; then
        echo "ok   $line: more than $tolerance% cheaper; lock the gain in:" \
          "bash bench/instructions.sh --update, and commit bench/instructions.baseline"
      else
        echo "ok   $line"
      fi
    done
    exit "$failed"
    ;;
esac
