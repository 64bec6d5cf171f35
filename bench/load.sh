#!/usr/bin/env bash
# client_credentials throughput on the embedded default: a release build serving on loopback,
# wrk (Debian package `wrk`) at concurrency 32 for 20 s, two threads.
#   bash bench/load.sh [BINARY]   # default: $CARGO_TARGET_DIR/release/gatehouse
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
port=18080
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
created=$("$bin" clients create --name load --scope read --output json)
id=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
secret=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
"$bin" serve 2>server.log &
server=$!
until "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null; do sleep 0.1; done
basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
cat > post.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
# one request first, to show it answers 200 with a token
curl -s -o /dev/null -w 'first request: HTTP %{http_code}\n' -u "$id:$secret" \
  -d grant_type=client_credentials -d scope=read "http://127.0.0.1:$port/oauth2/token"
wrk -t2 -c32 -d20s --latency -s post.lua "http://127.0.0.1:$port/oauth2/token"
echo "server resident memory after the run: $(ps -o rss= -p "$server") KiB"
