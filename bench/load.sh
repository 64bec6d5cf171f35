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
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
mode="${2:-token}"
backend="${3:-embedded}"
seconds="${4:-20}"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
work=$(mktemp -d)
server=""
db=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$db" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
port=18080
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
export GATEHOUSE_ADMIN__REQUESTS_PER_MINUTE=100000000
if [ "$backend" = shared ]; then
  db="gatehouse_bench_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >/dev/null
  export GATEHOUSE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db"
  export GATEHOUSE_EPHEMERAL__URL="redis://127.0.0.1:6379"
  export GATEHOUSE_EPHEMERAL__KEY_PREFIX="bench:$$:"
  GATEHOUSE_KEYS__ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
  export GATEHOUSE_KEYS__ENCRYPTION_KEY
  "$bin" migrate >/dev/null
fi
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
created=$("$bin" clients create --name load --scope read --output json)
id=$(printf '%s' "$created" | field client_id)
secret=$(printf '%s' "$created" | field client_secret)
"$bin" serve 2>server.log &
server=$!
until "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null; do sleep 0.1; done
basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
token=$(curl -s -u "$id:$secret" -d grant_type=client_credentials -d scope=read \
  "http://127.0.0.1:$port/oauth2/token" | field access_token)
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
cat > post.lua <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
# one request first, to show it answers 200 (and, for introspection, an active token)
curl -s -w '  <- first request: HTTP %{http_code}\n' -H "Authorization: Basic $basic" \
  -d "$body" "http://127.0.0.1:$port$path" | cut -c1-120
echo "$mode on $backend, $(basename "$bin"): $bin"
wrk -t2 -c32 -d"${seconds}s" --latency -s post.lua "http://127.0.0.1:$port$path"
echo "server resident memory after the run: $(ps -o rss= -p "$server") KiB"
