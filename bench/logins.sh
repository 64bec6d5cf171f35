#!/usr/bin/env bash
# A login storm against a release build on the embedded default: 32 people sign in at once
# (each one argon2id verification with the default OWASP parameters), then the server's peak
# resident memory, how many were told to retry (503), and the time it took.
#   bash bench/logins.sh [BINARY]   # default: $CARGO_TARGET_DIR/release/gatehouse
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
port=18082
export GATEHOUSE_SERVER__BIND="127.0.0.1:$port" GATEHOUSE_LOG__LEVEL=warn
printf '%s\n' 'correct horse battery staple' |
  "$bin" users create --username ann --password-stdin >/dev/null
client=$("$bin" clients create --name storm --first-party --public \
  --redirect-uri http://127.0.0.1:9/cb --scope openid --output json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
"$bin" serve 2>server.log &
server=$!
until "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null; do sleep 0.1; done
python3 - "$port" "$client" "$server" "${STORM:-32}" <<'PY'
import base64, hashlib, http.cookiejar, re, secrets, sys, threading, time, urllib.parse, urllib.request
port, client, pid, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs): return None
def login_page():
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client,
        "redirect_uri": "http://127.0.0.1:9/cb", "scope": "openid", "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    page = opener.open(f"{base}/oauth2/authorize?{query}").read().decode()
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return opener, action, csrf
pages = [login_page() for _ in range(n)]
statuses, barrier = [], threading.Barrier(n)
def sign_in(opener, action, csrf):
    body = urllib.parse.urlencode({"csrf_token": csrf, "username": "ann",
        "password": "correct horse battery staple"}).encode()
    barrier.wait()
    try:
        statuses.append(opener.open(base + action, body).status)
    except urllib.error.HTTPError as e:
        statuses.append(e.code)
def rss(field):
    return int(open(f"/proc/{pid}/status").read().split(field + ":")[1].split()[0]) / 1024
before = rss("VmRSS")
threads = [threading.Thread(target=sign_in, args=p) for p in pages]
t0 = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - t0
print(f"{n} sign-ins at once: {statuses.count(303)} signed in, {statuses.count(503)} told to retry (503), "
      f"other {len(statuses) - statuses.count(303) - statuses.count(503)}, in {elapsed*1000:.0f} ms")
print(f"server resident memory: {before:.1f} MiB before, peak {rss('VmHWM'):.1f} MiB, {rss('VmRSS'):.1f} MiB after")
PY
