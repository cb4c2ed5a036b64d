#!/usr/bin/env python3
"""Scale: a 1,000-user database against a 1,000,000-user database, in one run.

Each database is created by one start of the release binary (migrations, first admin), then
seeded with sqlite3 in one transaction, every user with one argon2id hash of a known password
taken from a scratch server's admin row. Both servers then run at once on loopback, pinned to
core 0: logins of random seeded users alternate between them so drift affects both alike;
wrk (core 1) drives GET /api/auth/me in the order 1k, 1M, 1M, 1k and the runs are averaged
per size; VmRSS is read after start, after the logins and after the load. Once, a fresh server
on the 1k database holds 1,000 open keep-alive connections.

Usage: cargo build --release -p tessera && python3 bench/scale.py   (needs wrk and taskset)
"""

import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tessera")
PASSWORD = "bench-scale-password"
JWT_SECRET = "bench-scale-fixed-secret-0123456789"
SIZES = {"1k": 1_000, "1M": 1_000_000}
LOGINS = 40
WRK_SECONDS = 5
WRK_CONNECTIONS = 32
OPEN_CONNECTIONS = 1_000
TIMEOUT = 10.0
SERVER_CORE, CLIENT_CORE = "0", "1"


class BenchError(Exception):
    """A failed request or a server that misbehaved: the run stops with this message."""


def start_server(workdir, db_path, name):
    """Starts the release binary on `db_path` pinned to SERVER_CORE; returns (process, base URL)."""
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AYANOVA_"))}
    env.update(TESSERA_LOG="warn", TESSERA_LISTEN=f"127.0.0.1:{port}",
               TESSERA_DATABASE_URL=f"sqlite://{db_path}", TESSERA_ADMIN_PASSWORD=PASSWORD,
               TESSERA_JWT_SECRET=JWT_SECRET)
    out_path, err_path = (os.path.join(workdir, f"{name}.{ext}") for ext in ("out", "err"))
    with open(out_path, "w") as out, open(err_path, "w") as err:
        # taskset execs the binary, so the process id is the server's own.
        process = subprocess.Popen(["taskset", "-c", SERVER_CORE, BINARY, "serve"], cwd=workdir,
                                   env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with open(out_path) as out:
            if "tessera listening on " in out.read():
                return process, f"http://127.0.0.1:{port}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop_server(process)
    with open(err_path) as err:
        raise BenchError(f"server {name} did not start:\n{err.read()[-2000:]}")


def stop_server(process):
    """Stops a server started by start_server, by its process id; kills it if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def rss_mib(process):
    """The server's resident set size (VmRSS) in MiB."""
    with open(f"/proc/{process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {process.pid}")


def create_database(workdir, name, servers):
    """Creates a database by one server start (migrations, first admin); returns its path."""
    db_path = os.path.join(workdir, f"{name}.db")
    process, _ = start_server(workdir, db_path, f"create-{name}")
    servers.append(process)
    stop_server(process)
    return db_path


def reference_hash(workdir, servers):
    """The admin's argon2id PHC hash of PASSWORD, from a server started on a scratch database."""
    db_path = create_database(workdir, "scratch", servers)
    db = sqlite3.connect(db_path, timeout=TIMEOUT)
    try:
        (phc,) = db.execute("SELECT password_hash FROM users WHERE username = 'admin'").fetchone()
    finally:
        db.close()
    if not phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$"):
        raise BenchError(f"unexpected admin hash parameters: {phc.split('$')[:4]}")
    return phc


def seed(db_path, count, phc):
    """Inserts `count` users user0000001… with one transaction; returns (seconds, file MiB).

    The time covers the insert, the commit and the WAL checkpoint that folds it into the file."""
    now = int(time.time())
    rows = ((str(uuid.uuid4()), f"user{i:07d}", phc, "[]", 1, now, now)
            for i in range(1, count + 1))
    start = time.perf_counter()
    db = sqlite3.connect(db_path, timeout=TIMEOUT, isolation_level=None)
    try:
        # This connection only: random uuid keys would otherwise spill the cache all along.
        db.execute("PRAGMA cache_size = -262144")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO users (id, username, password_hash, roles, active, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.close()
    return time.perf_counter() - start, os.path.getsize(db_path) / 2**20


def login(base, username):
    """Logs `username` in with PASSWORD; returns (milliseconds, access token); non-200 fails."""
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        base + "/api/auth/login", data=body, headers={"content-type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            payload, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        raise BenchError(f"login {username} at {base}: status {error.code}: {error.read()[:200]!r}")
    except OSError as error:
        raise BenchError(f"login {username} at {base}: {error}")
    if status != 200:
        raise BenchError(f"login {username} at {base}: status {status}")
    return (time.perf_counter() - start) * 1000.0, json.loads(payload)["access_token"]


def wrk_me(base, token, seconds):
    """Runs wrk on CLIENT_CORE against GET /api/auth/me; returns (requests/s, p99 ms)."""
    command = ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s",
               "--timeout", "5s", "--latency", "-H", f"authorization: Bearer {token}",
               base + "/api/auth/me"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 20)
    text = result.stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: .*", text)
    if result.returncode != 0 or failed or socket_errors:
        raise BenchError(f"wrk against {base}/api/auth/me failed:\n{text}{result.stderr}")
    value, unit = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)), p99


def open_connections(base, count):
    """Opens `count` connections, each answering one keep-alive GET /healthz; returns them open."""
    host, port = base.rsplit("/", 1)[1].split(":")
    connections = []
    try:
        for _ in range(count):
            conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)  # HTTP/1.1
            connections.append(conn)
            conn.request("GET", "/healthz", headers={"Connection": "keep-alive"})
            response = conn.getresponse()
            response.read()
            if response.status != 200 or response.will_close:
                raise BenchError(f"GET /healthz: {response.status}, closing: {response.will_close}")
    except BaseException:
        for conn in connections:
            conn.close()
        raise
    return connections


def measure_logins(running, figures):
    """Alternates LOGINS logins of random seeded users between the servers; p50, p90, RSS after."""
    rng = random.Random(1)
    times = {label: [] for label in running}
    for label, (_, base) in running.items():  # warm-up
        login(base, "user0000001")
    for _ in range(LOGINS):
        for label, (_, base) in running.items():
            times[label].append(login(base, f"user{rng.randint(1, SIZES[label]):07d}")[0])
    for label, (process, _) in running.items():
        figures[label].update(
            login_p50=statistics.median(times[label]),
            login_p90=statistics.quantiles(times[label], n=10)[8],
            rss_logins=rss_mib(process))


def measure_me(running, figures):
    """wrk against GET /api/auth/me in the order 1k, 1M, 1M, 1k; mean req/s, p99, RSS after."""
    tokens = {label: login(base, "user0000002")[1] for label, (_, base) in running.items()}
    runs = {label: [] for label in running}
    for label, (_, base) in running.items():  # warm-up
        wrk_me(base, tokens[label], 1)
    for label in ["1k", "1M", "1M", "1k"]:
        runs[label].append(wrk_me(running[label][1], tokens[label], WRK_SECONDS))
    for label, (process, _) in running.items():
        figures[label].update(
            runs=runs[label], rps=statistics.mean(r for r, _ in runs[label]),
            p99=statistics.mean(p for _, p in runs[label]),
            rss_load=rss_mib(process))


def measure_connections(workdir, db_path, servers):
    """A fresh server on `db_path`: VmRSS idle, and with OPEN_CONNECTIONS open connections."""
    process, base = start_server(workdir, db_path, "connections")
    servers.append(process)
    time.sleep(0.5)
    idle = rss_mib(process)
    connections = open_connections(base, OPEN_CONNECTIONS)
    try:
        time.sleep(0.2)
        held = rss_mib(process)
    finally:
        for conn in connections:
            conn.close()
    stop_server(process)
    return idle, held


def measure(workdir, servers):
    """Seeds, starts and measures both sizes; returns the figures per size and connection RSS."""
    phc = reference_hash(workdir, servers)
    figures = {label: {} for label in SIZES}
    for label, count in SIZES.items():
        db_path = create_database(workdir, label, servers)
        figures[label]["seed_s"], figures[label]["db_mib"] = seed(db_path, count, phc)
        figures[label]["db"] = db_path
    running = {}
    for label in SIZES:
        process, base = start_server(workdir, figures[label]["db"], f"serve-{label}")
        servers.append(process)
        running[label] = (process, base)
        time.sleep(0.5)
        figures[label]["rss_idle"] = rss_mib(process)
    measure_logins(running, figures)
    measure_me(running, figures)
    for process, _ in running.values():
        stop_server(process)
    return figures, measure_connections(workdir, figures["1k"]["db"], servers)


def report(figures, connections):
    """Prints the Markdown table, the 1M/1k ratios against their targets and the connection RSS."""
    print(f"server on core {SERVER_CORE}, wrk -t1 -c{WRK_CONNECTIONS} on core {CLIENT_CORE};"
          f" {LOGINS} logins per size; /me: mean of 2 runs of {WRK_SECONDS} s per size")
    print()
    print("| users | seed s | db MiB | login p50 ms | login p90 ms | /me req/s | /me p99 ms"
          " | idle RSS MiB | RSS after logins MiB | RSS after load MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, count in SIZES.items():
        f = figures[label]
        print(f"| {count:,} | {f['seed_s']:.2f} | {f['db_mib']:.1f} | {f['login_p50']:.1f}"
              f" | {f['login_p90']:.1f} | {f['rps']:,.0f} | {f['p99']:.2f} | {f['rss_idle']:.1f}"
              f" | {f['rss_logins']:.1f} | {f['rss_load']:.1f} |")
    print()
    order = [figures[label]["runs"][i] for label, i in (("1k", 0), ("1M", 0), ("1M", 1), ("1k", 1))]
    print("/me req/s of each run, in order 1k, 1M, 1M, 1k: "
          + ", ".join(f"{rps:,.0f}" for rps, _ in order))
    small, large = figures["1k"], figures["1M"]
    login_ratio = large["login_p50"] / small["login_p50"]
    rps_ratio = large["rps"] / small["rps"]
    verdict = {True: "met", False: "MISSED"}
    print(f"login p50 1M/1k: {login_ratio:.3f} (target <= 1.10: {verdict[login_ratio <= 1.10]})")
    print(f"/me req/s 1M/1k: {rps_ratio:.3f} (target >= 0.90: {verdict[rps_ratio >= 0.90]})")
    idle, held = connections
    print(f"RSS, fresh server on the 1k database: idle {idle:.1f} MiB, with {OPEN_CONNECTIONS:,}"
          f" open keep-alive connections {held:.1f} MiB"
          f" (+{(held - idle) * 1024 / OPEN_CONNECTIONS:.1f} KiB per connection)")


def main():
    """Checks the tools, raises the file limit, measures and reports; always cleans up."""
    if not os.path.exists(BINARY):
        sys.exit("bench: build first: cargo build --release -p tessera")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is missing (apt-get install -y {tool})")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_CONNECTIONS + 256  # the servers inherit the raised limit too
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    servers = []
    workdir = tempfile.mkdtemp(prefix="tessera-scale-")
    started = time.perf_counter()
    try:
        figures, connections = measure(workdir, servers)
    except (BenchError, OSError, subprocess.SubprocessError) as error:
        sys.exit(f"bench: FAILED: {error}")
    finally:
        for process in servers:
            stop_server(process)
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures, connections)
    print(f"whole run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
