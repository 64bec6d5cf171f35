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
. bench/lib.sh
bin="$(bench_binary "${CARGO_TARGET_DIR:-target}/profiling/gatehouse")"
mkdir -p "$out"
bench_workdir
cd "$root"

# 1. Deterministic: callgrind's counts, by layer and by function.
bash bench/instructions.sh --keep "$work/callgrind" "$bin" | tee "$work/counts"
python3 bench/callgrind_layers.py "$work/callgrind/token.callgrind" \
  "$(awk '/^instructions per request/ { sub(/ requests.*/, ""); sub(/.*\(/, ""); print }' "$work/counts")" \
  >"$out/client_credentials-$label.txt"
echo "wrote $out/client_credentials-$label.txt"

# 2. Sampled: the same server natively, under load, seen by perf.
cd "$work"
port=$(bench_free_port)
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_SERVER__WORKERS=1 GATEHOUSE_SERVER__SHUTDOWN_TIMEOUT_SECS=1
bench_client "$bin" profile
bench_serve "http://127.0.0.1:$port/readyz" server.log "$bin" serve
bench_post_lua post.lua "grant_type=client_credentials&scope=read"
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
