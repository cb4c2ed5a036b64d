#!/usr/bin/env python3
"""schemathesis against the real `tessera` binary and the OpenAPI document it serves.

Usage: run_schemathesis.py PATH/TO/tessera [--max-examples N] [--verbose]

Needs schemathesis (tests/schemathesis/requirements.txt); the rest is the Python standard
library. Starts the binary on a fresh SQLite database in a temporary directory (loopback,
port 0), logs in as the bootstrap admin, creates an ordinary user and logs it in, then runs
schemathesis against GET /api/openapi.json with no token, with the user's token and with the
admin's token. The checks: no 5xx, and every answer's status code, content type, headers
and body are the ones the document describes for that operation.

Operations that can end the session whose token a run uses (logging out, ending sessions,
changing or deleting users) each get a run of their own per token, after the others, with
the operations that reveal ids and a new account made with `tessera user add` (an earlier
run may have changed the password of, deactivated or deleted any other): once its session
is ended a token is refused (401), which the document describes too, but nothing else would
be tested with it. Generation is deterministic (schemathesis's replacement for a fixed seed),
so a run repeats exactly against the same build. Prints one summary line ("schemathesis: ok: …" or "schemathesis: FAILED …") and
exits 1 when any run fails, 2 on a usage error. It talks to loopback only and writes only
inside its temporary directory (kept, and named, when the run fails).
"""

import argparse
import base64
import importlib.util
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ADMIN_PASSWORD = "schemathesis admin password"
USER_NAME = "schemathesis-user"
USER_PASSWORD = "schemathesis user password"
STARTUP_TIMEOUT_SECONDS = 60
LISTENING_PREFIX = "tessera listening on http://"
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])
# The operations of API clients (HTTP Basic), run with a client's credentials.
CLIENT_OPERATIONS = ["introspect", "revoke"]

# The operations (by operationId) that can end the session of the token they are sent with.
SESSION_ENDING = [
    "logout",
    "logout_all",
    "end_own_session",
    "end_user_sessions",
    "end_user_session",
    "update_user",
    "delete_user",
    "change_password",
]
# Sent along with each of those, so that schemathesis learns real ids to send it.
ID_SOURCES = ["create_user", "list_users", "list_own_sessions", "list_user_sessions"]


class Failure(Exception):
    """The run cannot go on: the server does not start or does not log in."""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", type=Path, help="the tessera binary to test")
    parser.add_argument("--max-examples", type=int, default=25,
                        help="test cases per operation and phase (default 25)")
    parser.add_argument("--verbose", action="store_true",
                        help="show schemathesis's whole output for every run")
    args = parser.parse_args()
    if args.max_examples < 1:
        parser.error("--max-examples must be positive")
    if not (args.binary.is_file() and os.access(args.binary, os.X_OK)):
        parser.error(f"{args.binary} is not an executable file "
                     "(build it with: cargo build -p tessera --bin tessera)")
    if importlib.util.find_spec("schemathesis") is None:
        parser.error("schemathesis is not installed (python3 -m pip install -r "
                     "tests/schemathesis/requirements.txt)")
    return args


def environment(workdir):
    """The settings of the server and of the commands run on its database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AYANOVA_"))}
    env.update({
        "TESSERA_LISTEN": "127.0.0.1:0",
        "TESSERA_DATABASE_URL": f"sqlite://{workdir / 'tessera.db'}",
        "TESSERA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # schemathesis logs in with made-up credentials by the hundred; the script's own
        # logins between runs must not be throttled because of them.
        "TESSERA_LOGIN_MAX_CLIENT_FAILURES": "10000",
        "TESSERA_LOGIN_MAX_ACCOUNT_FAILURES": "100",
        "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS": "3600",
        "TESSERA_LOG": "warn",
    })
    return env


def start_server(binary, workdir, env):
    """Starts `tessera serve`; answers (process, base URL) once it prints its address."""
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen([str(binary), "serve"], cwd=workdir, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    lines = queue.Queue()

    def pump():
        for raw in process.stdout:
            lines.put(raw.decode(errors="replace").strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            raise Failure(f"the server printed no address within {STARTUP_TIMEOUT_SECONDS} s") from None
        if line is None:
            raise Failure(f"the server exited with {process.wait()} before listening")
        if line.startswith(LISTENING_PREFIX):
            return process, "http://" + line[len(LISTENING_PREFIX):]


def call(base, method, path, token=None, body=None):
    """One request: (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def add_user(binary, workdir, env, username, admin):
    """Creates a user with `tessera user add`, whatever the API runs did to the others."""
    command = [str(binary), "user", "add", username, "--password-stdin"]
    if admin:
        command += ["--role", "admin"]
    result = subprocess.run(command, cwd=workdir, env=env, input=f"{USER_PASSWORD}\n".encode(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise Failure(f"tessera user add {username} exited with {result.returncode}: "
                      f"{result.stdout.decode(errors='replace').strip()}")


class Basic:
    """An API client's HTTP Basic credentials, made with `tessera client add`."""

    def __init__(self, binary, workdir, env, name):
        result = subprocess.run([str(binary), "client", "add", name], cwd=workdir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        out = result.stdout.decode(errors="replace")
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        if result.returncode != 0 or "client_id" not in fields:
            raise Failure(f"tessera client add {name} exited with {result.returncode}: "
                          f"{result.stderr.decode(errors='replace').strip()}")
        pair = f"{fields['client_id']}:{fields['client_secret']}".encode()
        self.encoded = base64.b64encode(pair).decode()


def login(base, username, password):
    status, body = call(base, "POST", "/api/auth/login",
                        body={"username": username, "password": password})
    if status != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise Failure(f"logging in as {username} answered {status}: {body}")
    return body["access_token"]


def schemathesis(base, token, operations, max_examples, workdir, label, verbose):
    """One schemathesis run; answers (passed, test cases, the tail of its output)."""
    command = [
        # The schemathesis command of this very interpreter, wherever pip put its scripts.
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "run", f"{base}/api/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(max_examples),
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
    ]
    if operations == "others":
        for operation_id in SESSION_ENDING:
            command += ["--exclude-operation-id", operation_id]
    elif operations in CLIENT_OPERATIONS:
        command += ["--include-operation-id", operations]
    elif operations != "all":
        for operation_id in [operations, *ID_SOURCES]:
            command += ["--include-operation-id", operation_id]
    if isinstance(token, Basic):
        command += ["--header", f"Authorization: Basic {token.encoded}"]
    elif token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    output = result.stdout.decode(errors="replace")
    (workdir / f"schemathesis-{label.replace('/', '-')}.log").write_text(output)
    generated = re.search(r"(\d+) generated", output)
    cases = int(generated.group(1)) if generated else 0
    seconds = time.monotonic() - started
    passed = result.returncode == 0
    if verbose or not passed:
        print(output, flush=True)
    print(f"schemathesis run {label}: {'passed' if passed else 'FAILED'}, "
          f"{cases} test cases in {seconds:.0f} s", flush=True)
    return passed, cases


def main():
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tessera-schemathesis-"))
    process = None
    started = time.monotonic()
    failed, total = [], 0
    try:
        binary = args.binary.resolve()
        env = environment(workdir)
        process, base = start_server(binary, workdir, env)
        admin = login(base, "admin", ADMIN_PASSWORD)
        status, body = call(base, "POST", "/api/users", admin,
                            {"username": USER_NAME, "password": USER_PASSWORD})
        if status != 201:
            raise Failure(f"creating {USER_NAME} answered {status}: {body}")
        user = login(base, USER_NAME, USER_PASSWORD)
        # (label, token, operations). The runs that may end sessions, change passwords or
        # delete users each get a new account, made with the CLI, since an earlier run may
        # have locked any API account out; the user's runs come first, as an administrator's
        # may deactivate or delete it.
        runs = [("no-token", None, "all"), ("user", user, "others")]
        runs += [("user", ("user", n), op) for n, op in enumerate(SESSION_ENDING)]
        runs += [("admin", admin, "others")]
        runs += [("admin", ("admin", n), op) for n, op in enumerate(SESSION_ENDING)]
        # An API client on its operations (the feed is left out: its long poll would make
        # every generated `wait` a pause of that many seconds).
        runs += [("client", "client", op) for op in CLIENT_OPERATIONS]
        for label, token, operations in runs:
            if token == "client":
                token = Basic(binary, workdir, env, f"schemathesis-{operations}")
            if isinstance(token, tuple):
                kind, n = token
                username = f"schemathesis-{kind}-{n}"
                add_user(binary, workdir, env, username, admin=kind == "admin")
                token = login(base, username, USER_PASSWORD)
            passed, cases = schemathesis(base, token, operations, args.max_examples,
                                         workdir, f"{label}/{operations}", args.verbose)
            total += cases
            if not passed:
                failed.append(f"{label}/{operations}")
        if process.poll() is not None:
            failed.append(f"the server exited with {process.returncode}")
    except Failure as error:
        failed.append(str(error))
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
    seconds = time.monotonic() - started
    if failed:
        print(f"schemathesis: FAILED ({'; '.join(failed)}); {total} test cases in "
              f"{seconds:.0f} s; logs kept in {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"schemathesis: ok: {len(runs)} runs (no token, a user's token, an admin's token, "
          f"an API client's credentials), {total} test cases, no server error or answer outside the document, "
          f"in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
