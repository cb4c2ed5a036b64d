#!/usr/bin/env python3
"""kill -9 crash-safety check of the real `tessera` binary (Python standard library only).

Usage: crash_safety.py PATH/TO/tessera [--seed N] [--cycles N] [--workers N] [--budget S]
                                        [--verbose]

Starts the binary on a fresh SQLite database in a temporary directory (loopback, port 0),
drives mixed load from several threads (logins, refresh rotations, user creation,
deactivation, password changes, session revocation, logout), records only what the
server acknowledged with a 2xx, kills the server with SIGKILL at a random moment,
restarts it on the same database and checks the invariants (see `crash_checks`). Repeats
for a bounded number of cycles and time, prints one summary line, and exits 1 on any
violation, 2 on a usage error. It talks to loopback only and writes only inside its
temporary directory (kept, and named, when the run fails).

The seed (printed first; `--seed` or TESSERA_CRASH_SEED sets it) fixes the kill moments
and each worker's choice of operations. Thread interleaving still varies between runs,
so a failure reproduces with the same seed often, not always.
"""

import argparse
import os
import queue
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

from crash_checks import Checker, raise_if  # noqa: E402
from crash_load import Ledger, Unreachable, Violation, Worker, call  # noqa: E402

ADMIN_PASSWORD = "crash-safety admin password"
# The smallest grace window that still has one (0 turns it off), so that every refresh
# acknowledged before a kill is past its window by the time the restarted server is
# checked, except those acknowledged in the last second or so before the kill.
GRACE_SECONDS = 1
STARTUP_TIMEOUT_SECONDS = 60
LISTENING_PREFIX = "tessera listening on http://"
# How long the load runs before each kill, drawn uniformly from this range (seconds).
KILL_AFTER_SECONDS = (0.05, 2.5)


class Failure(Exception):
    """The run cannot go on: a violation, or a server that does not start."""


class Server:
    """The binary under test, started and killed on one database."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.process = None
        self.log_path = None
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TESSERA_", "AYANOVA_"))}
        self.env.update({
            "TESSERA_LISTEN": "127.0.0.1:0",
            "TESSERA_DATABASE_URL": f"sqlite://{workdir / 'tessera.db'}",
            "TESSERA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            # Fixed for the run, so that tokens survive the restarts.
            "TESSERA_JWT_SECRET": secrets.token_urlsafe(24),
            "TESSERA_REFRESH_REUSE_GRACE_SECONDS": str(GRACE_SECONDS),
            # The checks log in with refused passwords on purpose; keep throttling out of it.
            "TESSERA_LOGIN_MAX_CLIENT_FAILURES": "10000",
            "TESSERA_LOGIN_MAX_ACCOUNT_FAILURES": "100",
            "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS": "3600",
            "TESSERA_LOG": "warn",
        })

    def start(self, index):
        """Starts the server; answers its (host, port) once it prints that it listens."""
        self.log_path = self.workdir / f"server-{index}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve"], cwd=self.workdir, env=self.env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            )
        lines = queue.Queue()
        threading.Thread(target=pump, args=(self.process.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise Failure(f"start {index}: the server printed no address within "
                              f"{STARTUP_TIMEOUT_SECONDS} s{self.log_tail()}") from None
            if line is None:
                code = self.process.wait()
                raise Failure(f"start {index}: the server exited with {code} before "
                              f"listening{self.log_tail()}")
            if line.startswith(LISTENING_PREFIX):
                host, _, port = line[len(LISTENING_PREFIX):].rpartition(":")
                return host, int(port)

    def kill(self):
        """SIGKILL: no shutdown code runs, exactly as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def log_tail(self):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            return ""
        return ("; its log ends:\n  " + "\n  ".join(lines)) if lines else ""


def pump(stream, lines):
    """Moves the server's stdout into `lines` (None at its end), so the pipe never fills."""
    for raw in stream:
        lines.put(raw.decode(errors="replace").strip())
    lines.put(None)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", type=Path, help="the tessera binary to test")
    parser.add_argument("--seed", type=int, default=None,
                        help="the run's seed (default: TESSERA_CRASH_SEED, else random)")
    parser.add_argument("--cycles", type=int, default=12, help="kill/restart cycles (default 12)")
    parser.add_argument("--workers", type=int, default=4, help="load threads (default 4)")
    parser.add_argument("--budget", type=float, default=75.0,
                        help="seconds after which no new cycle starts (default 75)")
    parser.add_argument("--verbose", action="store_true", help="one line per cycle")
    args = parser.parse_args()
    if args.seed is None:
        from_env = os.environ.get("TESSERA_CRASH_SEED", "")
        try:
            args.seed = int(from_env) if from_env else secrets.randbelow(2**32)
        except ValueError:
            parser.error(f"TESSERA_CRASH_SEED must be an integer, not {from_env!r}")
    if args.cycles < 1 or args.workers < 1 or args.budget <= 0:
        parser.error("--cycles, --workers and --budget must be positive")
    if not (args.binary.is_file() and os.access(args.binary, os.X_OK)):
        parser.error(f"{args.binary} is not an executable file "
                     "(build it with: cargo build -p tessera --bin tessera)")
    return args


def run(args, workdir, stats):
    rng = random.Random(args.seed)
    server = Server(args.binary.resolve(), workdir)
    address = server.start(0)
    try:
        status, body = call(address, "POST", "/api/auth/login",
                            {"username": "admin", "password": ADMIN_PASSWORD})
        if status != 200:
            raise Failure(f"the bootstrap admin cannot log in: {status} {body}")
        admin_token = body["access_token"]
        ledgers = [Ledger(index) for index in range(args.workers)]
        started = time.monotonic()
        for cycle in range(1, args.cycles + 1):
            stop = threading.Event()
            workers = [
                Worker(ledger, random.Random(f"{args.seed}/{cycle}/{ledger.index}"),
                       address, admin_token, cycle, stop)
                for ledger in ledgers
            ]
            for worker in workers:
                worker.thread.start()
            # The load runs while the driver waits for this cycle's kill moment.
            load = rng.uniform(*KILL_AFTER_SECONDS)
            time.sleep(load)
            server.kill()
            stop.set()
            for worker in workers:
                worker.thread.join()
            failures = [w.failure for w in workers if w.failure]
            if failures:
                raise Failure("\n".join(failures))
            in_flight = sorted(op.kind for ledger in ledgers for op in ledger.unknown)
            for kind in in_flight:
                stats["in flight"][kind] = stats["in flight"].get(kind, 0) + 1
            killed = time.monotonic()
            address = server.start(cycle)
            restarted = time.monotonic()
            final = cycle == args.cycles or time.monotonic() - started > args.budget
            checker = Checker(address, admin_token, GRACE_SECONDS, cycle, final, rng,
                              stats["checks"])
            raise_if(checker.run(ledgers))
            stats["cycles"] = cycle
            if args.verbose:
                print(f"crash-safety: cycle {cycle}: killed after {load:.2f} s of load, "
                      f"in flight: {', '.join(in_flight) or 'nothing'}; "
                      f"restart {restarted - killed:.2f} s, "
                      f"checks {time.monotonic() - restarted:.2f} s", flush=True)
            if final:
                break
        for ledger in ledgers:
            for kind, count in ledger.acked.items():
                stats["acked"][kind] = stats["acked"].get(kind, 0) + count
    except (Violation, Unreachable) as error:
        raise Failure(str(error)) from error
    finally:
        server.kill()


def summary(stats, seed, elapsed):
    checks = stats["checks"]
    kinds = ["create", "login", "refresh", "logout", "revoke", "deactivate", "password"]
    parts = ", ".join(
        f"{kind} {stats['acked'].get(kind, 0)} ({checks.get(kind, 0)} checks)" for kind in kinds
    )
    waited = checks.get("waited seconds", 0)
    in_flight = stats["in flight"]
    unknown = ", ".join(f"{kind} {count}" for kind, count in sorted(in_flight.items()))
    return (f"crash-safety: ok: {stats['cycles']} kill -9 cycles in {elapsed:.1f} s, seed {seed}; "
            f"acknowledged writes (assertions after restarts): {parts}; "
            f"{sum(in_flight.values())} requests in flight at a kill ({unknown}); "
            f"waited {waited} s for the last grace window")


def main():
    args = parse_args()
    print(f"crash-safety: seed {args.seed} (rerun with --seed {args.seed} "
          f"or TESSERA_CRASH_SEED={args.seed})", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="tessera-crash-"))
    stats = {"cycles": 0, "in flight": {}, "checks": {}, "acked": {}}
    began = time.monotonic()
    try:
        run(args, workdir, stats)
    except Failure as failure:
        print(f"crash-safety: FAILED (seed {args.seed}, after {stats['cycles']} complete "
              f"cycles):\n{failure}\nThe database and server logs are kept in {workdir}",
              flush=True)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print(summary(stats, args.seed, time.monotonic() - began), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
