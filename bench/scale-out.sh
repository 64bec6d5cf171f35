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
. bench/lib.sh
bin="$(bench_binary "${1:-}")"
seconds="${2:-20}"
max="${3:-3}"
connections=32
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
bench_workdir

base_port=18180
export GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_SERVER__ISSUER="http://127.0.0.1:$((base_port + 1))"
bench_shared_database "$bin" "gatehouse_bench_scale_$$"
bench_client "$bin" scale-out
bench_post_lua post.lua "grant_type=client_credentials&scope=read"

# CPU seconds of every running instance together.
total_cpu() {
  local pid sum=0
  for pid in "${bench_servers[@]}"; do
    sum=$(awk -v a="$sum" -v b="$(bench_cpu_seconds "$pid")" 'BEGIN { printf "%.3f", a + b }')
  done
  echo "$sum"
}

start_instance() { # N: instance N (1-based) on base_port + N
  local port=$((base_port + $1))
  GATEHOUSE_SERVER__BIND="127.0.0.1:$port" bench_serve "http://127.0.0.1:$port/readyz" \
    "server-$1.log" "$bin" serve
  curl -fs -o /dev/null -u "$id:$secret" -d grant_type=client_credentials -d scope=read \
    "http://127.0.0.1:$port/oauth2/token"
}

table="| instances | wrk per instance | req/s (sum) | per instance | p99 (worst) | server CPU per token | errors |
|---|---|---|---|---|---|---|"
for n in $(seq 1 "$max"); do
  bench_stop_servers
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
bench_stop_servers

header="client_credentials, ${connections} connections in all, ${seconds} s per run, $(nproc) cores, $(basename "$bin"); PostgreSQL + ${GATEHOUSE_EPHEMERAL__URL%%://*} on 127.0.0.1"
printf '%s\n\n%s\n' "$header" "$table"
if [ -n "${OUT:-}" ]; then
  printf '%s\n\n%s\n' "$header" "$table" >"$OUT"
fi
