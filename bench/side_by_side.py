"""Runs bench/side-by-side.sh's measurements: see that script for what and how.

    python3 bench/side_by_side.py GATEHOUSE_BINARY DRIVER_BINARY

Environment: SECONDS_PER_RUN (10), RUNS (3 pinned), UNPINNED_RUNS (1), LAYOUTS ("embedded
shared"), PINNING ("pinned unpinned"), ONLY (comma-separated works), OUT (a Markdown file whose
side-by-side section is replaced).
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

GATEHOUSE, DRIVER = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "10"))
RUNS = {"pinned": int(os.environ.get("RUNS", "3")), "unpinned": int(os.environ.get("UNPINNED_RUNS", "1"))}
LAYOUTS = os.environ.get("LAYOUTS", "embedded shared").split()
PINNING = os.environ.get("PINNING", "pinned unpinned").split()
WORKS = ["cc_c32", "cc_c128", "introspect", "jwks", "wrong_secret", "flow", "refresh"]
ONLY = [w for w in os.environ.get("ONLY", ",".join(WORKS)).split(",") if w]
PASSWORD = "correct horse battery staple"
REDIRECT = "http://127.0.0.1:9/cb"
TICK = os.sysconf("SC_CLK_TCK")
LABEL = {
    "cc_c32": "client_credentials, c32",
    "cc_c128": "client_credentials, c128",
    "introspect": "introspection, c32",
    "jwks": "JWKS, c32",
    "wrong_secret": "wrong client secret, c32",
    "flow": "code flow with sign-in, c8",
    "refresh": "refresh rotation, c32",
}


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def memory_mib(pid, field):
    status = open(f"/proc/{pid}/status").read()
    return int(status.split(field + ":")[1].split()[0]) / 1024


def backend_pids():
    """PostgreSQL's and Redis's processes (their CPU is reported beside the server's)."""
    out = subprocess.run(["pgrep", "-x", "postgres|redis-server"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(url, process):
    for _ in range(600):
        if process.poll() is not None:
            sys.exit(f"the server at {url} exited with {process.returncode}")
        try:
            if http("GET", url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"{url} never answered 200")


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class Server:
    """One provider under test: its process, its URLs and the credentials of its clients."""

    def __init__(self, name, process, base, cc, web, metrics=None, extra=None):
        self.name, self.process, self.base = name, process, base
        self.cc, self.web = cc, web
        discovery = json.loads(http("GET", base + "/.well-known/openid-configuration")[1])
        self.token_url = discovery["token_endpoint"]
        self.introspect_url = discovery["introspection_endpoint"]
        self.jwks = discovery["jwks_uri"]
        self.metrics = metrics
        self.extra = extra or []  # extra driver arguments (the peer's prompt)
        self.introspect_token = None  # set once the server can issue it
        self.database = None  # the PostgreSQL database to drop afterwards, if any
        self.idle_rss = memory_mib(process.pid, "VmRSS")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def pin(core, pinning):
    return ["taskset", "-c", str(core)] if pinning == "pinned" else []


def token(server, **extra):
    body = "grant_type=client_credentials&scope=read" + "".join(f"&{k}={v}" for k, v in extra.items())
    status, answer = http("POST", server.token_url, body.encode(),
                          {"Authorization": basic(*server.cc), "Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        sys.exit(f"no token from {server.name}: {status} {answer[:200]!r}")
    return json.loads(answer)["access_token"]


def start_peer(pinning, work):
    port = 18090
    secret = secrets.token_urlsafe(24)
    env = dict(os.environ, PORT=str(port), PEER_SECRET=secret, PEER_PASSWORD=PASSWORD, NODE_ENV="production")
    process = subprocess.Popen(pin(0, pinning) + ["node", os.path.join(HERE, "peer", "server.mjs")], env=env,
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "peer.log"), "w"))
    base = f"http://127.0.0.1:{port}"
    wait_ready(base + "/.well-known/openid-configuration", process)
    server = Server("peer", process, base, ("bench-cc", secret), ("bench-web", secret),
                    extra=["--param", "prompt=consent"])
    # oidc-provider introspects only opaque tokens: one for the resource server that gets them
    server.introspect_token = token(server, resource="urn:bench:opaque")
    return server


def start_gatehouse(layout, pinning, work):
    port = 18080
    home = tempfile.mkdtemp(dir=work)
    env = dict(os.environ, GATEHOUSE_SERVER__BIND=f"127.0.0.1:{port}", GATEHOUSE_LOG__LEVEL="warn",
               GATEHOUSE_ADMIN__REQUESTS_PER_MINUTE="100000000",
               # the wrong-secret row measures the 401 itself, not the throttle's cheaper 429
               GATEHOUSE_CLIENT_AUTH__MAX_FAILURES="1000000000",
               GATEHOUSE_CLIENT_AUTH__MAX_FAILURES_PER_ADDRESS="1000000000",
               GATEHOUSE_CLIENT_AUTH__MAX_FAILURES_PER_CLIENT="1000000000",
               # the driver signs one person in from one address up to 32 times at once: the
               # sign-in throttle counts attempts in flight, so it would refuse that as a guess
               # storm (the peer has no such throttle)
               GATEHOUSE_SESSIONS__MAX_FAILED_LOGINS="1000000000",
               GATEHOUSE_SESSIONS__MAX_FAILED_LOGINS_PER_USER="1000000000",
               GATEHOUSE_SESSIONS__MAX_FAILED_LOGINS_PER_ADDRESS="1000000000")
    database = None
    if layout == "shared":
        database = f"gatehouse_bench_{os.getpid()}"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {database}"],
                       check=True, stdout=subprocess.DEVNULL)
        env.update(GATEHOUSE_DATABASE__URL=f"postgres://postgres@127.0.0.1:5432/{database}",
                   GATEHOUSE_EPHEMERAL__URL="redis://127.0.0.1:6379",
                   GATEHOUSE_EPHEMERAL__KEY_PREFIX=f"bench:{os.getpid()}:",
                   GATEHOUSE_KEYS__ENCRYPTION_KEY=base64.b64encode(os.urandom(32)).decode())
        subprocess.run([GATEHOUSE, "migrate"], env=env, cwd=home, check=True, stdout=subprocess.DEVNULL)

    def cli(*args, stdin=None):
        out = subprocess.run([GATEHOUSE, *args], env=env, cwd=home, input=stdin, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"gatehouse {args[0]} {args[1]} failed ({out.returncode}): {out.stderr.strip()}")
        return json.loads(out.stdout) if "--output" in args else out.stdout

    cli("users", "create", "--username", "ann", "--password-stdin", stdin=PASSWORD + "\n")
    created = cli("clients", "create", "--name", "bench-cc", "--scope", "read", "--output", "json")
    web = cli("clients", "create", "--name", "bench-web", "--first-party", "--redirect-uri", REDIRECT,
              "--grant-type", "authorization_code", "--grant-type", "refresh_token",
              "--scope", "openid", "--scope", "offline_access", "--id-token-alg", "ES256",
              "--output", "json")
    process = subprocess.Popen(pin(0, pinning) + [GATEHOUSE, "serve"], env=env, cwd=home,
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{layout}.log"), "w"))
    base = f"http://127.0.0.1:{port}"
    wait_ready(base + "/readyz", process)
    cc = (created["client_id"], created["client_secret"])
    server = Server(f"gatehouse-{layout}", process, base, cc, (web["client_id"], web["client_secret"]),
                    metrics=base + "/metrics")
    server.introspect_token = token(server)
    server.database = database
    return server


def drop_database(server):
    if server.database:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        f"DROP DATABASE IF EXISTS {server.database} WITH (FORCE)"], stdout=subprocess.DEVNULL)


def hash_seconds(server):
    """The sum and count of gatehouse_password_hash_seconds, or None for the peer."""
    if not server.metrics:
        return None
    text = http("GET", server.metrics)[1].decode()
    pick = lambda name: float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))
    return pick("gatehouse_password_hash_seconds_sum"), pick("gatehouse_password_hash_seconds_count")


def latency_ms(text, percentile):
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_run(server, work, pinning, workdir):
    token_path, introspect_path = server.token_url, server.introspect_url
    cc_body = "grant_type=client_credentials&scope=read"
    url, method, body, auth, expect = {
        "cc_c32": (token_path, "POST", cc_body, basic(*server.cc), 200),
        "cc_c128": (token_path, "POST", cc_body, basic(*server.cc), 200),
        "introspect": (introspect_path, "POST", f"token={server.introspect_token}", basic(*server.cc), 200),
        "jwks": (server.jwks, "GET", None, None, 200),
        "wrong_secret": (token_path, "POST", cc_body, basic(server.cc[0], "not-the-secret"), 401),
    }[work]
    # One request first: the answer each row measures, checked (an active token for introspection).
    status, answer = http(method, url, body.encode() if body else None,
                          {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"} if auth else {})
    if status != expect or (work == "introspect" and not json.loads(answer).get("active")):
        sys.exit(f"{server.name} {work}: {status} {answer[:200]!r}, expected {expect}")
    script = os.path.join(workdir, "request.lua")
    with open(script, "w") as lua:
        lua.write(f'wrk.method = "{method}"\n')
        if body:
            lua.write(f'wrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
        if auth:
            lua.write(f'wrk.headers["Authorization"] = "{auth}"\n')
    connections = 128 if work == "cc_c128" else 32
    threads = 1 if pinning == "pinned" else 2
    command = pin(1, pinning) + ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "--latency",
                                 "-s", script, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"^\s+(\d+) requests in", out, re.M).group(1))
    wrong = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    wrong = int(wrong.group(1)) if wrong else 0
    errors = wrong if expect == 200 else requests - wrong
    return {"requests": requests, "errors": errors, "per_sec": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": latency_ms(out, 50), "p99_ms": latency_ms(out, 99)}


def driver_run(server, work, pinning):
    concurrency = 8 if work == "flow" else 32
    command = pin(1, pinning) + [DRIVER, work, "--issuer", server.base, "--client-id", server.web[0],
                                 "--client-secret", server.web[1], "--username", "ann", "--password", PASSWORD,
                                 "--redirect-uri", REDIRECT, "--scope", "openid offline_access",
                                 "--concurrency", str(concurrency), "--seconds", str(SECONDS), "--warmup", "1",
                                 "--handshake", *server.extra]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "ready":
        sys.exit(f"{server.name} {work}: the driver failed ({process.wait()})")
    return process


def measure(server, work, pinning, workdir):
    backend = backend_pids() if server.name == "gatehouse-shared" else []
    hashes = hash_seconds(server) if work == "flow" else None
    driver = driver_run(server, work, pinning) if work in ("flow", "refresh") else None
    cpu0, backend0, t0 = cpu_seconds([server.process.pid]), cpu_seconds(backend), time.monotonic()
    if driver:
        driver.stdin.write("\n")
        driver.stdin.flush()
        result = json.loads(driver.stdout.readline())
        driver.wait()
        result["requests"] = result["ok"]
    else:
        result = wrk_run(server, work, pinning, workdir)
    elapsed = time.monotonic() - t0
    cpu, backend_cpu = cpu_seconds([server.process.pid]) - cpu0, cpu_seconds(backend) - backend0
    done = max(result["requests"], 1)
    result["cpu_us"] = cpu / done * 1e6
    result["backend_us"] = backend_cpu / done * 1e6 if backend else None
    result["cores"] = cpu / elapsed
    result["rss_mib"] = memory_mib(server.process.pid, "VmRSS")
    if hashes:
        after = hash_seconds(server)
        result["hash_ms"] = (after[0] - hashes[0]) / max(after[1] - hashes[1], 1) * 1000
    return result


def median_run(runs):
    runs = sorted(runs, key=lambda r: r["per_sec"])
    return runs[len(runs) // 2]


def main():
    rows = {}  # (pinning, work, server) -> result
    peaks = {}  # (pinning, server) -> peak RSS
    idles = {}
    workdir = tempfile.mkdtemp(prefix="side-by-side-")
    try:
        for pinning in PINNING:
            for which in ["peer"] + [f"gatehouse-{layout}" for layout in LAYOUTS]:
                server = start_peer(pinning, workdir) if which == "peer" else \
                    start_gatehouse(which.split("-", 1)[1], pinning, workdir)
                try:
                    idles[(pinning, which)] = server.idle_rss
                    for work in [w for w in WORKS if w in ONLY]:
                        runs = [measure(server, work, pinning, workdir) for _ in range(RUNS[pinning])]
                        rows[(pinning, work, which)] = median_run(runs)
                        r = rows[(pinning, work, which)]
                        print(f"{pinning:8} {which:17} {work:12} {r['per_sec']:9.0f}/s p50 {r['p50_ms']:.2f} "
                              f"p99 {r['p99_ms']:.2f} ms cpu {r['cpu_us']:.0f} us errors {r['errors']}",
                              file=sys.stderr, flush=True)
                    peaks[(pinning, which)] = memory_mib(server.process.pid, "VmHWM")
                finally:
                    server.stop()
                    drop_database(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = render(rows, peaks, idles)
    print(report)
    out = os.environ.get("OUT")
    if out:
        text = open(out).read()
        begin, end = "<!-- side-by-side:begin", "<!-- side-by-side:end -->"
        section = report_section(report)
        if begin in text:
            text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        open(out, "w").write(text)


def report_section(report):
    return ("<!-- side-by-side:begin (bench/side-by-side.sh writes this section; keep it whole) -->\n"
            + report + "\n<!-- side-by-side:end -->")


def render(rows, peaks, idles):
    servers = ["peer"] + [f"gatehouse-{layout}" for layout in LAYOUTS]
    name = {"peer": "peer (oidc-provider)", "gatehouse-embedded": "Gatehouse, SQLite + memory",
            "gatehouse-shared": "Gatehouse, PostgreSQL + Redis"}
    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    lines = [f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores ({cpu_model}), "
             f"{SECONDS:g} s per run, median of {RUNS['pinned']} pinned and {RUNS['unpinned']} unpinned run(s); "
             f"{subprocess.run([GATEHOUSE, '--version'], capture_output=True, text=True).stdout.strip()} "
             f"(the checkout at {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip() or '?'}), "
             f"oidc-provider {json.load(open(os.path.join(HERE, 'peer', 'node_modules', 'oidc-provider', 'package.json')))['version']} "
             f"on Node.js {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}.", ""]
    for pinning in PINNING:
        lines += [f"### {pinning.capitalize()}" + (" (server on core 0, load generator on core 1)" if pinning == "pinned" else ""), "",
                  "| work | server | req/s | × peer | p50 ms | p99 ms | server CPU µs/req | PostgreSQL + Redis CPU µs/req | errors | RSS MiB |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for work in [w for w in WORKS if w in ONLY]:
            peer = rows.get((pinning, work, "peer"))
            for which in servers:
                r = rows.get((pinning, work, which))
                if not r:
                    continue
                ratio = f"{r['per_sec'] / peer['per_sec']:.1f}×" if peer and which != "peer" else ""
                backend = f"{r['backend_us']:.0f}" if r.get("backend_us") is not None else ""
                lines.append(f"| {LABEL[work]} | {name[which]} | {r['per_sec']:,.0f} | {ratio} | {r['p50_ms']:.2f} | "
                             f"{r['p99_ms']:.2f} | {r['cpu_us']:.0f} | {backend} | {r['errors']} | {r['rss_mib']:.1f} |")
        lines += ["", "Resident memory, idle after start / peak over all the runs: " + "; ".join(
            f"{name[w]} {idles[(pinning, w)]:.1f} / {peaks[(pinning, w)]:.1f} MiB" for w in servers if (pinning, w) in peaks), ""]
    lines += targets(rows, peaks)
    return "\n".join(lines)


def targets(rows, peaks):
    checks = []
    for layout in LAYOUTS:
        g, name = f"gatehouse-{layout}", {"embedded": "SQLite + memory", "shared": "PostgreSQL + Redis"}[layout]
        get = lambda pinning, work, who=g: rows.get((pinning, work, who))
        cc, peer_cc = get("pinned", "cc_c32"), get("pinned", "cc_c32", "peer")
        if cc and peer_cc:
            ratio = cc["per_sec"] / peer_cc["per_sec"]
            checks.append((f"client_credentials ≥ 5× the peer, pinned c32 ({name})", f"{ratio:.1f}×", ratio >= 5))
            checks.append((f"client_credentials ≤ 75 µs server CPU a token ({name})", f"{cc['cpu_us']:.0f} µs", cc["cpu_us"] <= 75))
        i, peer_i = get("pinned", "introspect"), get("pinned", "introspect", "peer")
        if i and peer_i:
            ratio = i["per_sec"] / peer_i["per_sec"]
            checks.append((f"introspection ≥ 3× the peer's opaque introspection, pinned ({name})", f"{ratio:.1f}×", ratio >= 3))
        u = get("unpinned", "cc_c32")
        if u:
            checks.append((f"client_credentials p99 ≤ 5 ms, c32 unpinned ({name})", f"{u['p99_ms']:.2f} ms", u["p99_ms"] <= 5))
        f = get("pinned", "flow")
        if f and f.get("hash_ms"):
            # pinned to one core, passwords.max_concurrent defaults to 1 slot
            bound = 1 / (f["hash_ms"] / 1000)
            checks.append((f"code flow within 10% of the argon2 bound, pinned ({name}): "
                           f"{f['per_sec']:.1f} flows/s against 1 slot / {f['hash_ms']:.1f} ms a hash = {bound:.1f}/s",
                           f"{f['per_sec'] / bound:.0%}", f["per_sec"] >= 0.9 * bound))
        for pinning in PINNING:
            if (pinning, g) in peaks and (pinning, "peer") in peaks:
                mine, theirs = peaks[(pinning, g)], peaks[(pinning, "peer")]
                checks.append((f"peak RSS ≤ ⅓ of the peer's, {pinning} ({name})",
                               f"{mine:.1f} against {theirs:.1f} MiB", mine * 3 <= theirs))
    lines = ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {what} | {value} | {'yes' if ok else '**no**'} |" for what, value, ok in checks]
    return lines


if __name__ == "__main__":
    main()
