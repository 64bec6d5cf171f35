#!/usr/bin/env bash
# Throughput of the token hot paths: a release build serving on loopback, wrk (Debian package
# `wrk`) at concurrency 32, two threads.
#   bash bench/load.sh [BINARY] [token|introspect] [embedded|shared] [SECONDS]
#     BINARY      default: $CARGO_TARGET_DIR/release/gatehouse
#     token       client_credentials at the token endpoint (the default)
#     introspect  RFC 7662 introspection of a live access token, by a resource server
#     embedded    SQLite + memory (the default); shared: PostgreSQL + Redis on 127.0.0.1
#     SECONDS     default 20
# To compare two builds, run it once per binary in the same session (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin="$(bench_binary "${1:-}")"
mode="${2:-token}"
backend="${3:-embedded}"
seconds="${4:-20}"
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
bench_workdir
port=18080
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_ADMIN__REQUESTS_PER_MINUTE=100000000
if [ "$backend" = shared ]; then
  bench_shared_database "$bin" "gatehouse_bench_$$"
fi
bench_client "$bin" load
bench_serve "http://127.0.0.1:$port/readyz" server.log "$bin" serve
token=$(curl -s -u "$id:$secret" -d grant_type=client_credentials -d scope=read \
  "http://127.0.0.1:$port/oauth2/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
case "$mode" in
  token)
    path=/oauth2/token
    body="grant_type=client_credentials&scope=read"
    ;;
  introspect)
    path=/oauth2/introspect
    body="token=$token"
    ;;
  *) echo "unknown mode $mode (token or introspect)" >&2; exit 2 ;;
esac
bench_post_lua post.lua "$body"
# one request first, to show it answers 200 (and, for introspection, an active token)
curl -s -w '  <- first request: HTTP %{http_code}\n' -H "Authorization: Basic $basic" \
  -d "$body" "http://127.0.0.1:$port$path" | cut -c1-120
echo "$mode on $backend, $(basename "$bin"): $bin"
wrk -t2 -c32 -d"${seconds}s" --latency -s post.lua "http://127.0.0.1:$port$path"
echo "server resident memory after the run: $(ps -o rss= -p "$server") KiB"
