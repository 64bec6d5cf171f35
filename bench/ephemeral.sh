#!/usr/bin/env bash
# `gatehouse serve --ephemeral --port 0` as a test harness starts it: time from process start to
# the URL on the first line of standard output and to the first 200 on /readyz at that URL
# (median of 20 starts), the resident memory (idle, and after minting 100 tokens), and a check
# that the working directory is still empty afterwards.
#   bash bench/ephemeral.sh [BINARY]   # default: $CARGO_TARGET_DIR/release/gatehouse
# GATEHOUSE_* variables pass through; without RSA key generation, for comparison:
#   GATEHOUSE_KEYS__ALGORITHMS='["ES256"]' GATEHOUSE_TOKENS__ID_TOKEN_ALGORITHM=ES256 bash bench/ephemeral.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 - "$bin" <<'PY'
import json, os, statistics, subprocess, sys, time, urllib.request
bin = sys.argv[1]
env = dict(os.environ, GATEHOUSE_LOG__LEVEL="warn")   # other GATEHOUSE_* variables pass through
def start():
    t0 = time.perf_counter()
    p = subprocess.Popen([bin, "serve", "--ephemeral", "--port", "0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = p.stdout.readline().strip()
    t_url = time.perf_counter() - t0
    if not url.startswith("http://"):
        sys.exit(f"gatehouse printed no URL (exit status {p.wait()})")
    while True:
        try:
            if urllib.request.urlopen(url + "/readyz", timeout=1).status == 200:
                break
        except Exception:
            time.sleep(0.001)
    return p, url, t_url, time.perf_counter() - t0
def stop(p):
    p.terminate(); p.wait()
def rss_kib(p, field="VmRSS"):
    return int(open(f"/proc/{p.pid}/status").read().split(field + ":")[1].split()[0])
p, *_ = start(); stop(p)   # warm the page cache
urls, readys = [], []
for _ in range(20):
    p, _, t_url, t_ready = start(); urls.append(t_url); readys.append(t_ready); stop(p)
ms = lambda xs: f"median {statistics.median(xs)*1000:.1f} ms (min {min(xs)*1000:.1f}, max {max(xs)*1000:.1f})"
print(f"start to URL on stdout: {ms(urls)} over 20 starts")
print(f"start to 200 on /readyz: {ms(readys)} over 20 starts")
p, url, *_ = start(); time.sleep(2)
idle = rss_kib(p)
for i in range(100):
    body = json.dumps({"sub": f"user-{i}", "scope": "a b", "claims": {"n": i}}).encode()
    req = urllib.request.Request(url + "/testing/tokens", body, {"content-type": "application/json"})
    urllib.request.urlopen(req).read()
busy, peak = rss_kib(p), rss_kib(p, "VmHWM")
stop(p)
print(f"resident memory: idle {idle/1024:.1f} MiB, after 100 mints {busy/1024:.1f} MiB (peak {peak/1024:.1f} MiB)")
left = os.listdir(".")
print("files written: " + (", ".join(left) if left else "none"))
sys.exit(1 if left else 0)
PY
