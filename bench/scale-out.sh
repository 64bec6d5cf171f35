#!/usr/bin/env bash
# client_credentials throughput of 1, 2 and 3 instances behind one issuer, on one PostgreSQL
# and one Redis (127.0.0.1:5432 and :6379): a release build, one wrk per instance in parallel
# (32 connections in all, split evenly), the requests per second summed. Writes a Markdown
# table; see BENCHMARKS.md ("Scale-out") for how to read it.
#   bash bench/scale-out.sh [BINARY] [SECONDS] [MAX_INSTANCES]
#     BINARY         default: $CARGO_TARGET_DIR/release/gatehouse
#     SECONDS        per run, default 20
#     MAX_INSTANCES  default 3
#   OUT=FILE also writes the table to FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
seconds="${2:-20}"
max="${3:-3}"
connections=32
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
servers=()
db="gatehouse_bench_scale_$$"
stop_servers() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  servers=()
}
cleanup() {
  stop_servers
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

base_port=18180
export GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_SERVER__ISSUER="http://127.0.0.1:$((base_port + 1))"
export GATEHOUSE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
export GATEHOUSE_EPHEMERAL__URL="${EPHEMERAL_URL:-redis://127.0.0.1:6379}"
export GATEHOUSE_EPHEMERAL__KEY_PREFIX="bench:scale:$$:"
GATEHOUSE_KEYS__ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export GATEHOUSE_KEYS__ENCRYPTION_KEY
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >/dev/null
"$bin" migrate >/dev/null

field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
created=$("$bin" clients create --name scale-out --scope read --output json)
id=$(printf '%s' "$created" | field client_id)
secret=$(printf '%s' "$created" | field client_secret)
basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
cat >post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# CPU seconds of every running instance together.
total_cpu() {
  local pid sum=0
  for pid in "${servers[@]}"; do
    sum=$(awk -v a="$sum" -v b="$(cpu_seconds "$pid")" 'BEGIN { printf "%.3f", a + b }')
  done
  echo "$sum"
}

start_instance() { # N: instance N (1-based) on base_port + N
  local port=$((base_port + $1))
  GATEHOUSE_SERVER__BIND="127.0.0.1:$port" "$bin" serve 2>"server-$1.log" &
  servers+=("$!")
  until "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null; do sleep 0.1; done
  curl -fs -o /dev/null -u "$id:$secret" -d grant_type=client_credentials -d scope=read \
    "http://127.0.0.1:$port/oauth2/token"
}

table="| instances | wrk per instance | req/s (sum) | per instance | p99 (worst) | server CPU per token | errors |
|---|---|---|---|---|---|---|"
for n in $(seq 1 "$max"); do
  stop_servers
  # The first instance alone makes the signing keys; the others find them in the database.
  for i in $(seq 1 "$n"); do start_instance "$i"; done
  per=$(( (connections + n - 1) / n ))
  threads=$(( n == 1 ? 2 : 1 ))
  before=$(total_cpu)
  loads=()
  for i in $(seq 1 "$n"); do
    wrk -t"$threads" -c"$per" -d"${seconds}s" --latency -s post.lua \
      "http://127.0.0.1:$((base_port + i))/oauth2/token" >"wrk-$n-$i.out" &
    loads+=("$!")
  done
  wait "${loads[@]}"
  after=$(total_cpu)
  row=$(python3 - "$n" "$before" "$after" wrk-"$n"-*.out <<'PY'
import re, sys
n, before, after, files = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
def seconds(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1}[unit]
rates, requests, p99s, errors = [], 0, [], 0
for name in files:
    out = open(name).read()
    rates.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
    requests += int(re.search(r"(\d+) requests in", out).group(1))
    p99s.append(seconds(re.search(r"99%\s+(\S+)", out).group(1)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(map(int, m.groups())) if m else 0
cpu_us = (after - before) / requests * 1e6 if requests else 0
per = " / ".join(f"{r:,.0f}" for r in rates)
print(f"| {n} | {len(files)} | {sum(rates):,.0f} | {per} | {max(p99s) * 1e3:.1f} ms | {cpu_us:.0f} µs | {errors} |")
PY
)
  table="$table
$row"
  echo "$row" >&2
done
stop_servers

header="client_credentials, ${connections} connections in all, ${seconds} s per run, $(nproc) cores, $(basename "$bin"); PostgreSQL + ${GATEHOUSE_EPHEMERAL__URL%%://*} on 127.0.0.1"
printf '%s\n\n%s\n' "$header" "$table"
if [ -n "${OUT:-}" ]; then
  printf '%s\n\n%s\n' "$header" "$table" >"$OUT"
fi
