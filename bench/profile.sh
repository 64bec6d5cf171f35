#!/usr/bin/env bash
# Where client_credentials spends its time, for a before/after pair in bench/README.md:
#   bash bench/profile.sh [LABEL]      LABEL default: the short commit id
# writes, under bench/profiles/:
#   client_credentials-LABEL.svg  a flame graph of the server's CPU time (perf sampling at
#                                 499 Hz, DWARF call stacks) under wrk, 8 connections, 10 s
#   client_credentials-LABEL.txt  instructions per request from callgrind (deterministic):
#                                 the request's layers and the costliest functions, inclusive
# It builds the `profiling` profile (the release build with its symbols kept; the first build
# takes as long as a release build) and needs perf (Debian: linux-perf), valgrind, wrk and
# inferno (cargo install inferno).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$PWD
label="${1:-$(git rev-parse --short HEAD)}"
out="$root/bench/profiles"
seconds="${SECONDS_PROFILED:-10}"
for tool in perf callgrind_control wrk inferno-flamegraph; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: apt-get install -y linux-perf valgrind wrk; cargo install inferno" >&2
    exit 1
  }
done
cargo build --locked --profile profiling --bin gatehouse
bin="$(realpath "${CARGO_TARGET_DIR:-target}/profiling/gatehouse")"
mkdir -p "$out"
work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Deterministic: callgrind's counts, by layer and by function.
bash bench/instructions.sh --keep "$work/callgrind" "$bin" | tee "$work/counts"
python3 bench/callgrind_layers.py "$work/callgrind/token.callgrind" \
  "$(awk '/^instructions per request/ { sub(/ requests.*/, ""); sub(/.*\(/, ""); print }' "$work/counts")" \
  >"$out/client_credentials-$label.txt"
echo "wrote $out/client_credentials-$label.txt"

# 2. Sampled: the same server natively, under load, seen by perf.
cd "$work"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_SERVER__WORKERS=1 GATEHOUSE_SERVER__SHUTDOWN_TIMEOUT_SECS=1
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
created=$("$bin" clients create --name profile --scope read --output json 2>/dev/null)
id=$(printf '%s' "$created" | field client_id)
secret=$(printf '%s' "$created" | field client_secret)
"$bin" serve >server.out 2>server.log &
server=$!
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.1; done
cat >post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
LUA
wrk -t1 -c8 -d2s -s post.lua "http://127.0.0.1:$port/oauth2/token" >/dev/null
perf record -q -F 499 --call-graph dwarf,65528 -p "$server" -o perf.data -- sleep "$seconds" &
recorder=$!
wrk -t1 -c8 -d"${seconds}s" -s post.lua "http://127.0.0.1:$port/oauth2/token" | grep -E 'Requests/sec|Latency'
wait "$recorder"
perf script -i perf.data --no-inline 2>/dev/null | inferno-collapse-perf >collapsed
# Frames under 0.2% of the samples are left out: the file stays small and readable.
inferno-flamegraph --title "client_credentials, $label ($(basename "$bin"), perf cpu-clock)" \
  --minwidth 0.2 <collapsed >"$out/client_credentials-$label.svg"
echo "wrote $out/client_credentials-$label.svg ($(du -k "$out/client_credentials-$label.svg" | cut -f1) KiB)"
