#!/usr/bin/env python3
"""Refresh throughput and tail latency of one or more tessera binaries, in one run.

Each round starts every binary in turn on a fresh database in a temporary directory (loopback,
port 0; the address is read from the line the server prints), then:
  1. login phase: N threads, each with one keep-alive connection, log the admin in again and
     again for --login-seconds (argon2-bound: this is the durability cost on logins);
  2. refresh phase: each thread rotates its own refresh-token chain (from its first login)
     for --seconds, one request at a time, timing every request.
The order of the binaries alternates from round to round (A B, B A, ...) so drift on the
machine affects them alike. Printed per round and as medians over the rounds: refreshes/s,
logins/s, p50 and p99 of the refresh latency; with two binaries, the ratios second/first.

Usage: python3 bench/refresh.py [--chains 8] [--seconds 5] [--rounds 4] NAME=BINARY [NAME=BINARY]
For example: python3 bench/refresh.py before=/path/to/main/tessera after=target/release/tessera
Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "bench-refresh-password"
JWT_SECRET = "bench-refresh-fixed-secret-0123456789"
START_TIMEOUT = 30.0


class BenchError(Exception):
    """A failed request or a server that misbehaved: the run stops with this message."""


def start_server(binary, workdir):
    """Starts `binary serve` on a fresh database in `workdir`; returns (process, host, port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AYANOVA_"))}
    env.update(TESSERA_LOG="warn", TESSERA_LISTEN="127.0.0.1:0",
               TESSERA_DATABASE_URL="sqlite://" + os.path.join(workdir, "tessera.db"),
               TESSERA_ADMIN_PASSWORD=PASSWORD, TESSERA_JWT_SECRET=JWT_SECRET,
               TESSERA_JWT_EXPIRATION_MINUTES="15")
    err = open(os.path.join(workdir, "server.err"), "w")
    process = subprocess.Popen([binary, "serve"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                               stderr=err, stdin=subprocess.DEVNULL, text=True)
    err.close()
    found = {}

    def read_address():
        for line in process.stdout:
            if line.startswith("tessera listening on http://"):
                found["address"] = line.strip().rsplit("/", 1)[1]
                break
        for _ in process.stdout:  # keep draining so the server never blocks on stdout
            pass

    reader = threading.Thread(target=read_address, daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT
    while "address" not in found and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    if "address" not in found:
        stop_server(process)
        with open(os.path.join(workdir, "server.err")) as log:
            raise BenchError(f"{binary} did not start:\n{log.read()[-2000:]}")
    host, port = found["address"].rsplit(":", 1)
    return process, host, int(port)


def stop_server(process):
    """SIGTERM, as a service manager stops it; kill if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post(connection, path, body):
    """One JSON POST on a keep-alive connection: (status, parsed body)."""
    connection.request("POST", path, body=json.dumps(body),
                       headers={"content-type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def run_threads(count, work):
    """Runs `work(index)` on `count` threads at once; re-raises the first failure."""
    errors, results = [], [None] * count
    barrier = threading.Barrier(count)

    def target(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(str(errors[0]))
    return results


def measure(binary, chains, seconds, login_seconds):
    """One round on one binary: a dict of the figures."""
    workdir = tempfile.mkdtemp(prefix="tessera-refresh-")
    process, host, port = start_server(binary, workdir)
    try:
        def login_phase(_):
            connection = http.client.HTTPConnection(host, port, timeout=30)
            first, count = None, 0
            deadline = time.monotonic() + login_seconds
            while time.monotonic() < deadline or first is None:
                status, body = post(connection, "/api/auth/login",
                                    {"username": "admin", "password": PASSWORD})
                if status != 200:
                    raise BenchError(f"login answered {status}: {body}")
                first = first or body["refresh_token"]
                count += 1
            return connection, first, count

        started = time.monotonic()
        logged_in = run_threads(chains, login_phase)
        logins_per_second = sum(count for _, _, count in logged_in) / (time.monotonic() - started)

        def refresh_phase(index):
            connection, token, _ = logged_in[index]
            latencies = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                sent = time.perf_counter()
                status, body = post(connection, "/api/auth/refresh", {"refresh_token": token})
                latencies.append(time.perf_counter() - sent)
                if status != 200:
                    raise BenchError(f"refresh answered {status}: {body}")
                token = body["refresh_token"]
            connection.close()
            return latencies

        started = time.monotonic()
        latencies = [x for chain in run_threads(chains, refresh_phase) for x in chain]
        elapsed = time.monotonic() - started
        latencies.sort()
        return {
            "refreshes/s": len(latencies) / elapsed,
            "logins/s": logins_per_second,
            "p50 ms": 1000 * latencies[len(latencies) // 2],
            "p99 ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max ms": 1000 * latencies[-1],
        }
    finally:
        stop_server(process)
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("binaries", nargs="+", metavar="NAME=BINARY")
    parser.add_argument("--chains", type=int, default=8, help="chains = connections (8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="refresh phase (5)")
    parser.add_argument("--login-seconds", type=float, default=2.0, help="login phase (2)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per binary (4)")
    args = parser.parse_args()
    binaries = []
    for spec in args.binaries:
        name, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            parser.error(f"{spec}: expected NAME=PATH to an executable tessera")
        binaries.append((name, os.path.abspath(path)))

    keys = ["refreshes/s", "logins/s", "p50 ms", "p99 ms", "max ms"]
    results = {name: [] for name, _ in binaries}
    print(f"{args.chains} chains on {args.chains} connections, {args.seconds:g} s of refreshes "
          f"after {args.login_seconds:g} s of logins, {args.rounds} rounds")
    print(f"{'round':<6} {'binary':<10} " + " ".join(f"{k:>12}" for k in keys))
    for round_number in range(args.rounds):
        order = binaries if round_number % 2 == 0 else list(reversed(binaries))
        for name, path in order:
            figures = measure(path, args.chains, args.seconds, args.login_seconds)
            results[name].append(figures)
            print(f"{round_number + 1:<6} {name:<10} "
                  + " ".join(f"{figures[k]:>12.1f}" for k in keys), flush=True)

    print("\nmedian over rounds")
    medians = {name: {k: statistics.median(r[k] for r in results[name]) for k in keys}
               for name, _ in binaries}
    for name, _ in binaries:
        print(f"{'':<6} {name:<10} " + " ".join(f"{medians[name][k]:>12.1f}" for k in keys))
        print(f"{'':<6} {'':<10} p99/p50 = {medians[name]['p99 ms'] / medians[name]['p50 ms']:.1f}")
    if len(binaries) == 2:
        (first, _), (second, _) = binaries
        print(f"\nratio {second}/{first} " + " ".join(
            f"{k}: {medians[second][k] / medians[first][k]:.2f}" for k in keys))


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"error: {error}")
