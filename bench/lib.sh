# What the shell benchmarks share: sourced (`. bench/lib.sh`) from the repository root by
# load.sh, instructions.sh, profile.sh and scale-out.sh. Defines functions only; the caller
# chooses when to call them.

# The release binary given as $1 (or the default build), resolved, and refused if missing.
bench_binary() {
  local bin
  bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
  [ -x "$bin" ] || { echo "build first: cargo build --release" >&2; return 1; }
  printf '%s\n' "$bin"
}

# A scratch directory, made the working directory, and cleanup at exit: the servers started
# with bench_serve are stopped, the database made by bench_shared_database is dropped, and the
# directory removed. Sets `work`.
bench_workdir() {
  work=$(mktemp -d)
  bench_servers=()
  bench_database=""
  trap bench_cleanup EXIT
  cd "$work"
}

bench_stop_servers() {
  local pid
  for pid in "${bench_servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${bench_servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  bench_servers=()
}

bench_cleanup() {
  bench_stop_servers
  if [ -n "$bench_database" ]; then
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $bench_database WITH (FORCE)" \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}

# A free TCP port on 127.0.0.1.
bench_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The production layout for the Gatehouse processes started after it: a new PostgreSQL
# database NAME (dropped at exit), Redis on 127.0.0.1 (or EPHEMERAL_URL) under a key prefix of
# its own, one key-encryption key, and the schema migrated.
bench_shared_database() {
  local bin=$1 name=$2
  bench_database=$name
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $name" >/dev/null
  export GATEHOUSE_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$name"
  export GATEHOUSE_EPHEMERAL__URL="${EPHEMERAL_URL:-redis://127.0.0.1:6379}"
  export GATEHOUSE_EPHEMERAL__KEY_PREFIX="bench:$name:"
  GATEHOUSE_KEYS__ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
  export GATEHOUSE_KEYS__ENCRYPTION_KEY
  "$bin" migrate >/dev/null
}

# A confidential client_credentials client with the scope `read`: sets `id`, `secret` and
# `basic` (the Authorization header's credentials).
bench_client() {
  local bin=$1 name=$2 created
  created=$("$bin" clients create --name "$name" --scope read --output json 2>/dev/null)
  id=$(printf '%s' "$created" | python3 -c 'import json, sys; print(json.load(sys.stdin)["client_id"])')
  secret=$(printf '%s' "$created" | python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])')
  basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
}

# Starts COMMAND... in the background (standard error into LOG), stopped at exit; waits until
# URL answers 200, and fails with the log if the process ends first. Sets `server`.
bench_serve() {
  local url=$1 log=$2
  shift 2
  "$@" >/dev/null 2>"$log" &
  server=$!
  bench_servers+=("$server")
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$url never answered" >&2
  return 1
}

# A wrk script that POSTs BODY as a form with the client's Basic credentials, into FILE.
bench_post_lua() {
  local file=$1 body=$2
  cat >"$file" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
}

# CPU seconds (user + system) process PID has used so far.
bench_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"
}
