#!/usr/bin/env bash
# Time from `gatehouse serve` to the first 200 on /readyz on the embedded default with its keys
# already present (median of 20 starts), the idle resident memory, and the binary's size.
#   bash bench/startup.sh [BINARY]   # default: $CARGO_TARGET_DIR/release/gatehouse
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/gatehouse}")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GATEHOUSE_SERVER__BIND=127.0.0.1:18081 GATEHOUSE_LOG__LEVEL=warn
"$bin" migrate >/dev/null
"$bin" keys list >/dev/null   # creates the key-encryption key
# first start creates the signing keys; later starts reuse them
python3 - "$bin" <<'PY'
import statistics, subprocess, sys, time, urllib.request
bin = sys.argv[1]
def start():
    t0 = time.perf_counter()
    p = subprocess.Popen([bin, "serve"], stderr=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen("http://127.0.0.1:18081/readyz", timeout=1).status == 200:
                break
        except Exception:
            time.sleep(0.002)
    return p, time.perf_counter() - t0
p, _ = start(); p.terminate(); p.wait()
times = []
for _ in range(20):
    p, t = start(); times.append(t); p.terminate(); p.wait()
p, _ = start(); time.sleep(2)
rss = int(open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split()[0])
p.terminate(); p.wait()
print(f"start to ready: median {statistics.median(times)*1000:.1f} ms (min {min(times)*1000:.1f}, max {max(times)*1000:.1f}) over 20 starts")
print(f"idle resident memory: {rss/1024:.1f} MiB")
PY
echo "binary size: $(du -h "$bin" | cut -f1) ($(stat -c %s "$bin") bytes)"
