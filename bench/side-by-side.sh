#!/usr/bin/env bash
# Gatehouse and its peer, panva's oidc-provider (bench/peer), side by side in one run on this
# machine: the same load generators (wrk for single requests, bench/side-by-side/driver for the
# sign-in flow and refresh rotation), the same layouts (pinned: the server on core 0 and the load
# on core 1; unpinned: both anywhere), Gatehouse on SQLite + memory and on PostgreSQL + Redis.
# Builds what it needs, installs the peer from npm (bench/peer/package-lock.json), and prints a
# table of req/s, p50/p99 latency, server CPU per request and resident memory, then the targets
# of BENCHMARKS.md with the figures that meet them or not.
#
#   bash bench/side-by-side.sh                  # ~20 minutes: 10 s runs, 3 pinned + 1 unpinned
#   OUT=BENCHMARKS.md bash bench/side-by-side.sh   # also replaces the table in BENCHMARKS.md
#   SECONDS_PER_RUN=2 RUNS=1 bash bench/side-by-side.sh   # a smoke run, ~3 minutes
#   ONLY=cc_c32,introspect LAYOUTS=embedded PINNING=pinned bash bench/side-by-side.sh
#   BENCH_BINARY=path/to/gatehouse bash bench/side-by-side.sh   # another build, not built here
#
# Needs wrk, taskset, node and npm (Node.js 20 or later), PostgreSQL and Redis on 127.0.0.1 for
# the shared layout (as .ci/run starts them). Nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk taskset node npm psql redis-cli; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y wrk nodejs npm ...)" >&2; exit 1; }
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${BENCH_BINARY:-}" ]; then
  cargo build --release --locked --quiet --bin gatehouse
  BENCH_BINARY="$CARGO_TARGET_DIR/release/gatehouse"
fi
cargo build --release --locked --quiet --manifest-path bench/side-by-side/driver/Cargo.toml
driver="$CARGO_TARGET_DIR/release/side-by-side-driver"
[ -d bench/peer/node_modules/oidc-provider ] || npm ci --prefix bench/peer --no-audit --no-fund --silent
exec python3 bench/side_by_side.py "$(realpath "$BENCH_BINARY")" "$(realpath "$driver")"
