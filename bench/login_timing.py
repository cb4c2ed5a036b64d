#!/usr/bin/env python3
"""Login timing: unknown user vs wrong password vs right password, in one run.

Starts the release binary on a fresh database in a temporary directory (loopback, port 0),
then alternates the three kinds of login so drift in the machine affects them alike, and
prints medians and the ratio unknown / wrong password (the target is 1.00: a login must
not reveal whether a username exists).

Usage: cargo build --release && python3 bench/login_timing.py [ROUNDS]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tessera")
PASSWORD = "bench-admin-password"


def login(base, username, password):
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        base + "/api/auth/login", data=body, headers={"content-type": "application/json"}
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request) as response:
            status = response.status
            response.read()
    except urllib.error.HTTPError as error:
        status = error.code
        error.read()
    return status, (time.perf_counter() - start) * 1000.0


def main():
    if not os.path.exists(BINARY):
        sys.exit("build first: cargo build --release")
    with tempfile.TemporaryDirectory() as workdir:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AYANOVA_"))}
        env.update(
            TESSERA_LISTEN="127.0.0.1:0",
            TESSERA_ADMIN_PASSWORD=PASSWORD,
            TESSERA_LOG="error",
            # The throttle would stop the run; this measures the password path only.
            TESSERA_LOGIN_MAX_ACCOUNT_FAILURES="100",
            TESSERA_LOGIN_FAILURE_WINDOW_SECONDS="86400",
            TESSERA_LOGIN_MAX_CLIENT_FAILURES="10000",
        )
        server = subprocess.Popen(
            [BINARY], cwd=workdir, env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            base = None
            for line in server.stdout:
                if line.startswith("tessera listening on "):
                    base = line.split()[-1]
                    break
            if base is None:
                sys.exit("server did not start")
            kinds = {
                "unknown user": ("nobody-here", "wrong-password"),
                "wrong password": ("admin", "wrong-password"),
                "right password": ("admin", PASSWORD),
            }
            times = {kind: [] for kind in kinds}
            for kind, (user, password) in kinds.items():  # warm-up
                login(base, user, password)
            for _ in range(ROUNDS):
                for kind, (user, password) in kinds.items():
                    status, ms = login(base, user, password)
                    expected = 200 if kind == "right password" else 401
                    if status != expected:
                        sys.exit(f"{kind}: status {status}, expected {expected}")
                    times[kind].append(ms)
        finally:
            server.terminate()
            server.wait()
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    for kind, median in medians.items():
        print(f"{kind:15} median {median:7.2f} ms over {ROUNDS} logins")
    ratio = medians["unknown user"] / medians["wrong password"]
    print(f"unknown / wrong password: {ratio:.3f}")


if __name__ == "__main__":
    main()
