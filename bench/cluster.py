#!/usr/bin/env python3
"""PostgreSQL against SQLite, and several instances on one PostgreSQL database, in one run.

Every figure is a ratio against a baseline measured in the same run, with the measurements
interleaved (A, B, B, A, ...) so the host's drift affects both alike:

  1. `GET /api/auth/me` req/s: one instance on SQLite and one on PostgreSQL, both running,
     pinned to core 0; wrk (2 threads, 32 connections) on core 1, alternating; the ratio
     PostgreSQL / SQLite is the median of the per-round ratios.
  2. logins/s and refreshes/s: one instance per backend (not pinned: PostgreSQL needs a core
     too), alternating; in each measurement N python threads, one keep-alive connection each,
     log the admin in for a while (argon2-bound), then each rotates its own refresh chain,
     one request at a time, timing every refresh.
  3. the latency of a revoking write: `POST /api/auth/logout` of a fresh session on instance
     A, with 1 instance on SQLite and 1, 2 and 3 instances on one PostgreSQL database each
     (notifications on). Per write: log in on A, `POST /api/auth/refresh` on A (timed: the
     non-revoking baseline, one rotation in one transaction), `GET /api/auth/me` with the new
     token on every instance (so each caches the session), `POST /api/auth/logout` on A
     (timed: the end of the session, then the wait until every other live instance applied
     it), then `GET /api/auth/me` on every instance, which must be refused.
  4. from A's answer to B's refusal: two instances on one PostgreSQL database, once with
     `TESSERA_DATABASE_NOTIFICATIONS=true` and once `false` (the instances then poll every
     100 ms). Per repetition: log in on B, `GET /api/auth/me` on B (200, cached), log out on
     A (timed), then at once `GET /api/auth/me` on B (timed from A's answer); counts how often
     B still accepted (0 by design).

Latencies are client-side: from sending the request on a keep-alive loopback connection to
reading the whole answer. Each PostgreSQL instance set gets a fresh `tessera_bench_<random>`
database (tessera creates it), dropped at the end; every process and database started here
is stopped or dropped on exit, Ctrl-C and SIGTERM included.

Usage: cargo build --release -p tessera && python3 bench/cluster.py [--quick]
           [--database-url postgres://postgres@127.0.0.1:5432]
Needs wrk (Debian package `wrk`), taskset, psql and python3 (standard library only).
"""

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tessera")
PASSWORD = "bench-cluster-password"
JWT_SECRET = "bench-cluster-fixed-secret-0123456789"
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
SERVER_CORE, CLIENT_CORE = "0", "1"


class BenchError(Exception):
    """A failed request or a server that misbehaved: the run stops with this message."""


class Resources:
    """Every process and database this run started, so that cleanup can end them all."""

    def __init__(self, admin_url):
        self.admin_url = admin_url
        self.workdir = tempfile.mkdtemp(prefix="tessera-cluster-")
        self.processes = []
        self.databases = []
        self.lock = threading.Lock()

    def database(self):
        """A fresh database name on the server, registered for dropping before it exists."""
        name = "tessera_bench_" + secrets.token_hex(6)
        with self.lock:
            self.databases.append(name)
        return name

    def cleanup(self):
        """Stops every server (SIGTERM, so each leaves the registry; kill if it lingers),
        drops every database, removes the working directory."""
        for process in reversed(self.processes):
            stop_process(process)
        self.processes.clear()
        for name in self.databases:
            psql(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.databases.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


def psql(admin_url, statement):
    """Runs one statement on the server's `postgres` database; warns on failure."""
    result = subprocess.run(["psql", admin_url + "/postgres", "-qAtc", statement],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"warning: psql: {statement}: {result.stderr.strip()}", file=sys.stderr)


def stop_process(process):
    """SIGTERM, as a service manager stops it; kill if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    """One running `tessera serve`."""

    def __init__(self, process, host, port, name):
        self.process, self.host, self.port, self.name = process, host, port, name

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)


def start_server(resources, name, database_url, pin=None, notifications=True):
    """Starts the release binary on `database_url`, port 0 on loopback; waits for the line
    naming the bound address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AYANOVA_"))}
    env.update(TESSERA_LOG="warn", TESSERA_LISTEN="127.0.0.1:0",
               TESSERA_DATABASE_URL=database_url, TESSERA_ADMIN_PASSWORD=PASSWORD,
               TESSERA_JWT_SECRET=JWT_SECRET,
               TESSERA_DATABASE_NOTIFICATIONS="true" if notifications else "false")
    out_path = os.path.join(resources.workdir, f"{name}.out")
    err_path = os.path.join(resources.workdir, f"{name}.err")
    command = [BINARY, "serve"]
    if pin is not None:
        command = ["taskset", "-c", pin] + command  # taskset execs: the pid is the server's
    with open(out_path, "w") as out, open(err_path, "w") as err:
        # Its own session: a Ctrl-C on the terminal reaches only this script, which then
        # stops the servers one by one.
        process = subprocess.Popen(command, cwd=resources.workdir, env=env, stdout=out,
                                   stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    resources.processes.append(process)
    pattern = re.compile(r"tessera listening on http://([\d.]+):(\d+)")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        for path in (out_path, err_path):
            with open(path) as log:
                found = pattern.search(log.read())
            if found:
                return Server(process, found.group(1), int(found.group(2)), name)
        time.sleep(0.02)
    stop_process(process)
    with open(err_path) as log:
        raise BenchError(f"server {name} did not start:\n{log.read()[-2000:]}")


def request(connection, method, path, body=None, token=None):
    """One request on a keep-alive connection: (status, parsed body, seconds)."""
    headers = {}
    if body is not None:
        headers["content-type"] = "application/json"
        body = json.dumps(body)
    if token is not None:
        headers["authorization"] = "Bearer " + token
    sent = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - sent
    parsed = None
    if data and response.getheader("content-type", "").startswith("application/json"):
        parsed = json.loads(data)
    return response.status, parsed, elapsed


def expect(status, wanted, what, body):
    if status != wanted:
        raise BenchError(f"{what} answered {status} (expected {wanted}): {body}")


def login(connection):
    status, body, _ = request(connection, "POST", "/api/auth/login",
                              {"username": "admin", "password": PASSWORD})
    expect(status, 200, "login", body)
    return body


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def run_threads(count, work):
    """Runs `work(index)` on `count` threads started together; re-raises the first failure."""
    errors, results = [], [None] * count
    barrier = threading.Barrier(count)

    def target(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(str(errors[0]))
    return results


def alternate(round_number, items):
    """Forward in even rounds, reversed in odd ones."""
    return list(items) if round_number % 2 == 0 else list(reversed(items))


def summary(ratios):
    ordered = sorted(ratios)
    return f"{statistics.median(ordered):.2f} ({ordered[0]:.2f}–{ordered[-1]:.2f})"


# --- 1. GET /api/auth/me ------------------------------------------------------------------

def wrk(server, token, seconds, pin):
    """wrk -t2 -c32 on /api/auth/me: (requests per second, p50 ms, p99 ms)."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency",
               "-H", f"authorization: Bearer {token}",
               f"http://{server.host}:{server.port}/api/auth/me"]
    if pin is not None:
        command = ["taskset", "-c", pin] + command
    text = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=True).stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if failed:
        raise BenchError(f"{server.name}: {failed.group(1)} requests to /me failed")

    def ms(label):
        value, unit = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    return rps, ms("50%"), ms("99%")


def part_me(resources, admin_url, rounds, seconds):
    two_cores = (os.cpu_count() or 1) > 1
    server_pin, client_pin = (SERVER_CORE, CLIENT_CORE) if two_cores else (None, None)
    servers = {
        "sqlite": start_server(resources, "me-sqlite",
                               "sqlite://" + os.path.join(resources.workdir, "me.db"), server_pin),
        "postgres": start_server(resources, "me-postgres",
                                 f"{admin_url}/{resources.database()}", server_pin),
    }
    tokens = {}
    for name, server in servers.items():
        connection = server.connect()
        tokens[name] = login(connection)["access_token"]
        connection.close()
        wrk(server, tokens[name], 2, client_pin)  # warm-up
    rows = {name: [] for name in servers}
    for round_number in range(rounds):
        for name in alternate(round_number, servers):
            rows[name].append(wrk(servers[name], tokens[name], seconds, client_pin))
    for server in servers.values():
        stop_process(server.process)
    ratios = [pg[0] / lite[0] for pg, lite in zip(rows["postgres"], rows["sqlite"])]
    return rows, ratios


# --- 2. logins/s and refreshes/s ----------------------------------------------------------

def throughput(server, threads, login_seconds, refresh_seconds):
    """One measurement: logins/s, refreshes/s, refresh p50 and p99 in ms."""
    def login_phase(_):
        connection = server.connect()
        first, count = None, 0
        deadline = time.monotonic() + login_seconds
        while time.monotonic() < deadline or first is None:
            token = login(connection)["refresh_token"]
            first = first or token
            count += 1
        return connection, first, count

    started = time.monotonic()
    logged_in = run_threads(threads, login_phase)
    logins = sum(count for _, _, count in logged_in) / (time.monotonic() - started)

    def refresh_phase(index):
        connection, token, _ = logged_in[index]
        latencies = []
        deadline = time.monotonic() + refresh_seconds
        while time.monotonic() < deadline:
            status, body, elapsed = request(connection, "POST", "/api/auth/refresh",
                                            {"refresh_token": token})
            expect(status, 200, "refresh", body)
            latencies.append(elapsed)
            token = body["refresh_token"]
        connection.close()
        return latencies

    started = time.monotonic()
    latencies = [x for chain in run_threads(threads, refresh_phase) for x in chain]
    refreshes = len(latencies) / (time.monotonic() - started)
    return (logins, refreshes, 1000 * percentile(latencies, 0.5),
            1000 * percentile(latencies, 0.99))


def part_writes(resources, admin_url, rounds, threads, login_seconds, refresh_seconds):
    servers = {
        "sqlite": start_server(resources, "rw-sqlite",
                               "sqlite://" + os.path.join(resources.workdir, "rw.db")),
        "postgres": start_server(resources, "rw-postgres", f"{admin_url}/{resources.database()}"),
    }
    rows = {name: [] for name in servers}
    for round_number in range(rounds):
        for name in alternate(round_number, servers):
            rows[name].append(throughput(servers[name], threads, login_seconds, refresh_seconds))
    for server in servers.values():
        stop_process(server.process)
    return rows


# --- 3. revoking write latency ------------------------------------------------------------

class Group:
    """Instances on one database, with one keep-alive connection to each."""

    def __init__(self, label, servers):
        self.label, self.servers = label, servers
        self.connections = [server.connect() for server in servers]

    def close(self):
        for connection in self.connections:
            connection.close()


def start_group(resources, label, count, database_url, notifications=True):
    # One after the other: the first creates the database and the admin.
    servers = [start_server(resources, f"{label}-{i}", database_url, notifications=notifications)
               for i in range(count)]
    return Group(label, servers)


def one_revocation(group, refreshes, logouts, accepted):
    """Login, timed refresh, /me everywhere, timed logout, /me everywhere (must be 401)."""
    a = group.connections[0]
    grant = login(a)
    status, body, elapsed = request(a, "POST", "/api/auth/refresh",
                                    {"refresh_token": grant["refresh_token"]})
    expect(status, 200, "refresh", body)
    refreshes.append(elapsed)
    token = body["access_token"]
    for connection in group.connections:
        status, body, _ = request(connection, "GET", "/api/auth/me", token=token)
        expect(status, 200, "/me before the logout", body)
    status, body, elapsed = request(a, "POST", "/api/auth/logout", token=token)
    expect(status, 204, "logout", body)
    logouts.append(elapsed)
    for connection in group.connections:
        status, body, _ = request(connection, "GET", "/api/auth/me", token=token)
        if status == 200:
            accepted.append(1)
        elif status != 401:
            raise BenchError(f"/me after the logout answered {status}: {body}")


def part_revoke(resources, admin_url, rounds, writes):
    groups = [
        start_group(resources, "sqlite-1", 1,
                    "sqlite://" + os.path.join(resources.workdir, "revoke.db")),
        start_group(resources, "postgres-1", 1, f"{admin_url}/{resources.database()}"),
        start_group(resources, "postgres-2", 2, f"{admin_url}/{resources.database()}"),
        start_group(resources, "postgres-3", 3, f"{admin_url}/{resources.database()}"),
    ]
    results = {g.label: {"refresh": [], "logout": [], "accepted": [], "round_p50": []}
               for g in groups}
    per_round = max(1, -(-writes // rounds))
    for round_number in range(rounds):
        for group in alternate(round_number, groups):
            entry = results[group.label]
            before = len(entry["logout"])
            for _ in range(per_round):
                one_revocation(group, entry["refresh"], entry["logout"], entry["accepted"])
            entry["round_p50"].append(statistics.median(entry["logout"][before:]))
    for group in groups:
        group.close()
        for server in group.servers:
            stop_process(server.process)
    return results


# --- 4. from A's answer to B's refusal ----------------------------------------------------

def one_handover(group, results):
    a, b = group.connections
    grant = login(b)
    token = grant["access_token"]
    status, body, _ = request(b, "GET", "/api/auth/me", token=token)
    expect(status, 200, "/me on B before the logout", body)
    status, body, write = request(a, "POST", "/api/auth/logout", token=token)
    expect(status, 204, "logout on A", body)
    answered = time.perf_counter()
    b.request("GET", "/api/auth/me", headers={"authorization": "Bearer " + token})
    response = b.getresponse()
    response.read()
    refused_after = time.perf_counter() - answered
    if response.status not in (200, 401):
        raise BenchError(f"/me on B after the logout answered {response.status}")
    results["write"].append(write)
    results["until_refused"].append(refused_after)
    results["accepted"] += response.status == 200


def part_handover(resources, admin_url, rounds, repetitions):
    groups = [
        start_group(resources, "notify-on", 2, f"{admin_url}/{resources.database()}", True),
        start_group(resources, "notify-off", 2, f"{admin_url}/{resources.database()}", False),
    ]
    results = {g.label: {"write": [], "until_refused": [], "accepted": 0} for g in groups}
    per_round = max(1, -(-repetitions // rounds))
    for round_number in range(rounds):
        for group in alternate(round_number, groups):
            for _ in range(per_round):
                one_handover(group, results[group.label])
    for group in groups:
        group.close()
        for server in group.servers:
            stop_process(server.process)
    return results


# --- the run ------------------------------------------------------------------------------

def ms(seconds):
    return f"{1000 * seconds:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per part")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server, without a database (a user that may create "
                             "and drop databases)")
    args = parser.parse_args()
    if args.quick:
        me_rounds, me_seconds = 2, 2
        rw_rounds, rw_threads, rw_login, rw_refresh = 2, 8, 1.0, 1.0
        rv_rounds, rv_writes = 2, 20
        ho_rounds, ho_reps = 2, 20
    else:
        me_rounds, me_seconds = 8, 10
        rw_rounds, rw_threads, rw_login, rw_refresh = 6, 8, 3.0, 5.0
        rv_rounds, rv_writes = 10, 250
        ho_rounds, ho_reps = 10, 150
    if not os.access(BINARY, os.X_OK):
        sys.exit("bench: build first: cargo build --release -p tessera")
    for tool in ("wrk", "taskset", "psql"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is missing")
    admin_url = args.database_url.rstrip("/")
    resources = Resources(admin_url)

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    began = time.monotonic()
    try:
        print(f"tessera on SQLite and PostgreSQL ({'quick' if args.quick else 'full'} run), "
              f"{os.cpu_count()} cores", flush=True)

        rows, ratios = part_me(resources, admin_url, me_rounds, me_seconds)
        print(f"\n## 1. GET /api/auth/me, one instance each (core 0), wrk -t2 -c32 "
              f"(core 1), {me_seconds} s x {me_rounds} alternating rounds, medians")
        print("| backend | req/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |")
        for name in ("sqlite", "postgres"):
            columns = list(zip(*rows[name]))
            print(f"| {name} | {statistics.median(columns[0]):,.0f} | "
                  f"{statistics.median(columns[1]):.3f} | {statistics.median(columns[2]):.3f} |")
        print(f"PostgreSQL / SQLite req/s: {summary(ratios)} (median of per-round ratios, "
              f"range; target >= 0.95)")
        for name in ("sqlite", "postgres"):
            print(f"  {name} req/s per round: " + ", ".join(f"{r[0]:,.0f}" for r in rows[name]))
        print(f"[{time.monotonic() - began:.0f} s]", flush=True)

        rows = part_writes(resources, admin_url, rw_rounds, rw_threads, rw_login, rw_refresh)
        print(f"\n## 2. logins and refreshes, one instance each, {rw_threads} client threads "
              f"with keep-alive, {rw_login:g} s of logins then {rw_refresh:g} s of refreshes, "
              f"{rw_rounds} alternating rounds, medians")
        print("| backend | logins/s | refreshes/s | refresh p50 ms | refresh p99 ms |\n"
              "| --- | ---: | ---: | ---: | ---: |")
        for name in ("sqlite", "postgres"):
            columns = list(zip(*rows[name]))
            print(f"| {name} | {statistics.median(columns[0]):.1f} | "
                  f"{statistics.median(columns[1]):,.0f} | {statistics.median(columns[2]):.2f} | "
                  f"{statistics.median(columns[3]):.2f} |")
        for index, what in ((0, "logins/s"), (1, "refreshes/s"), (3, "refresh p99")):
            per_round = [pg[index] / lite[index]
                         for pg, lite in zip(rows["postgres"], rows["sqlite"])]
            print(f"PostgreSQL / SQLite {what}: {summary(per_round)} (median of per-round ratios)")
        for name in ("sqlite", "postgres"):
            print(f"  {name} logins/s, refreshes/s per round: "
                  + ", ".join(f"{r[0]:.1f} {r[1]:,.0f}" for r in rows[name]))
        print(f"[{time.monotonic() - began:.0f} s]", flush=True)

        results = part_revoke(resources, admin_url, rv_rounds, rv_writes)
        base = results["postgres-1"]
        print(f"\n## 3. revoking write on instance A: POST /api/auth/logout of a fresh session "
              f"cached on every instance; baseline POST /api/auth/refresh (one rotation, no "
              f"wait); {rv_rounds} alternating rounds")
        print("| database, instances | writes | logout p50 ms | p99 ms | p50 / PG-1 | "
              "p99 / PG-1 | refresh p50 ms | p99 ms | logout p50 / refresh p50 | "
              "/me accepted after logout |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, entry in results.items():
            out_p50, out_p99 = percentile(entry["logout"], 0.5), percentile(entry["logout"], 0.99)
            ref_p50, ref_p99 = percentile(entry["refresh"], 0.5), percentile(entry["refresh"], 0.99)
            print(f"| {label} | {len(entry['logout'])} | {ms(out_p50)} | {ms(out_p99)} | "
                  f"{out_p50 / percentile(base['logout'], 0.5):.2f} | "
                  f"{out_p99 / percentile(base['logout'], 0.99):.2f} | {ms(ref_p50)} | "
                  f"{ms(ref_p99)} | {out_p50 / ref_p50:.2f} | {len(entry['accepted'])} |")
        for label, entry in results.items():
            if label != "postgres-1":
                ratios = [x / y for x, y in zip(entry["round_p50"], base["round_p50"])]
                print(f"{label} / postgres-1 logout p50, per round: {summary(ratios)}")
        print(f"[{time.monotonic() - began:.0f} s]", flush=True)

        results = part_handover(resources, admin_url, ho_rounds, ho_reps)
        print(f"\n## 4. two instances on one PostgreSQL database: log out on A, then at once "
              f"GET /api/auth/me on B; {ho_rounds} alternating rounds")
        print("| notifications | repetitions | B accepted | A's logout p50 ms | p99 ms | "
              "A's answer -> B's refusal p50 ms | p99 ms |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, entry in results.items():
            print(f"| {label.removeprefix('notify-')} | {len(entry['write'])} | "
                  f"{entry['accepted']} | {ms(percentile(entry['write'], 0.5))} | "
                  f"{ms(percentile(entry['write'], 0.99))} | "
                  f"{ms(percentile(entry['until_refused'], 0.5))} | "
                  f"{ms(percentile(entry['until_refused'], 0.99))} |")
        off, on = results["notify-off"]["write"], results["notify-on"]["write"]
        print(f"logout p50 off / on: {percentile(off, 0.5) / percentile(on, 0.5):.2f}")
        print(f"\nwhole run: {time.monotonic() - began:.0f} s")
    except KeyboardInterrupt:
        print("\nbench: interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130)
    except (BenchError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"bench: {error}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        resources.cleanup()


if __name__ == "__main__":
    main()
