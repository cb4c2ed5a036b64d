"""The load side of the crash-safety check: a tiny HTTP client, the ledger of what the
server acknowledged, and the worker threads that drive mixed traffic.

A worker owns its users and their sessions, so no two threads ever act on the same user
and every write it records is one it saw answered with a 2xx. A request that got no
answer (the server was killed under it) is kept as an unknown operation, to be resolved
after the restart: either outcome is allowed, but the state must be consistent.
This module never decides whether an invariant holds; `crash_checks` does.
"""

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

# Per worker, so that the checks after every restart stay bounded in time.
MAX_USERS_PER_WORKER = 12
MAX_LIVE_SESSIONS_PER_WORKER = 8
REQUEST_TIMEOUT_SECONDS = 10.0


class Unreachable(Exception):
    """The request got no complete answer: refused, reset or timed out."""


class Violation(Exception):
    """An answer that breaks what the server promised; the message says which promise."""


def call(address, method, path, body=None, token=None):
    """Sends one request on a fresh connection; returns (status, JSON body or None)."""
    host, port = address
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token is not None:
        headers["authorization"] = "Bearer " + token
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(f"{method} {path}: {error}") from error
    finally:
        connection.close()
    payload = None
    if raw and "json" in (response.getheader("content-type") or ""):
        try:
            payload = json.loads(raw)
        except ValueError as error:
            raise Violation(
                f"{method} {path} answered {response.status} with invalid JSON: {error}"
            ) from error
    return response.status, payload


@dataclass(eq=False)
class User:
    name: str
    password: str
    id: str = ""
    active: bool = True
    # The cycle whose load acknowledged the user's newest write; checks that cost a
    # password hash run for fresh writes only (and for everything in the final pass).
    changed_in: int = 0
    # Passwords changed away from (acknowledged), with the cycle of the change.
    old_passwords: list = field(default_factory=list)
    deactivated_in: int = 0
    # True while an operation on this user has an unknown outcome.
    uncertain: bool = False


@dataclass(eq=False)
class Session:
    user: User
    id: str
    access: str
    refresh: str
    started_in: int
    # Every refresh token this session rotated away from (acknowledged), oldest first,
    # with the wall-clock time the rotation's answer arrived (the rotation is earlier).
    rotated: list = field(default_factory=list)
    ended_by: str = ""
    ended_in: int = 0
    uncertain: bool = False


@dataclass
class Op:
    kind: str
    user: User = None
    session: Session = None
    # create: the password; password: the new password.
    password: str = ""


class Ledger:
    """Everything one worker had acknowledged, and what is still unknown."""

    def __init__(self, index):
        self.index = index
        self.users = []
        self.sessions = []  # live, as far as acknowledged answers tell
        self.ended = []  # ended by an acknowledged write (or found ended after a check)
        self.unknown = []  # operations without an answer, resolved after the restart
        self.created = 0
        self.acked = {}

    def count(self, kind):
        self.acked[kind] = self.acked.get(kind, 0) + 1

    def live_sessions(self):
        return [s for s in self.sessions if not s.uncertain and not s.user.uncertain]

    def active_users(self):
        return [u for u in self.users if u.active and not u.uncertain]

    def end(self, session, reason, cycle):
        session.ended_by = reason
        session.ended_in = cycle
        if session in self.sessions:
            self.sessions.remove(session)
        self.ended.append(session)

    def end_all_of(self, user, reason, cycle):
        for session in [s for s in self.sessions if s.user is user]:
            self.end(session, reason, cycle)


class Worker:
    """Drives one ledger's traffic until the stop event is set or the server stops answering."""

    def __init__(self, ledger, rng, address, admin_token, cycle, stop):
        self.ledger = ledger
        self.rng = rng
        self.address = address
        self.admin_token = admin_token
        self.cycle = cycle
        self.stop = stop
        self.failure = None
        self.thread = threading.Thread(target=self.run, name=f"load-{ledger.index}", daemon=True)

    def run(self):
        try:
            while not self.stop.is_set():
                op = self.choose()
                try:
                    status, body = self.perform(op)
                except Unreachable:
                    self.mark_unknown(op)
                    return
                if status == 503:
                    # Busy: the server may or may not have done it; resolve after the restart.
                    self.mark_unknown(op)
                    continue
                self.apply(op, status, body)
        except Violation as violation:
            self.failure = str(violation)
        except Exception as error:  # noqa: BLE001 - reported, never swallowed
            self.failure = f"load worker {self.ledger.index} failed: {error!r}"

    def mark_unknown(self, op):
        self.ledger.unknown.append(op)
        if op.session is not None:
            op.session.uncertain = True
        if op.kind in ("password", "deactivate"):
            op.user.uncertain = True

    def choose(self):
        ledger = self.ledger
        live = ledger.live_sessions()
        active = ledger.active_users()
        # Operations that hash a password take a hundred times longer than the others, so
        # they are what a kill mostly interrupts. Odd workers hash seldom (a few users,
        # sessions that live for dozens of operations), so that kills also land on
        # rotations, logouts and revocations.
        fast = ledger.index % 2 == 1
        ends = 0.15 if fast else 1.0
        options = []
        if len(ledger.users) < (3 if fast else MAX_USERS_PER_WORKER):
            options.append(("create", 2.0))
        if active:
            if len(live) < (3 if fast else MAX_LIVE_SESSIONS_PER_WORKER):
                options.append(("login", 3.0))
            elif not fast:
                options.append(("login", 0.3))
            if not fast:
                options.append(("password", 0.8))
        if len(active) > 1:
            options.append(("deactivate", 0.5 * ends))
        if live:
            options += [("refresh", 6.0), ("me", 1.0), ("logout", ends), ("revoke", ends)]
        kinds, weights = zip(*options)
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "create":
            ledger.created += 1
            name = f"crash-w{ledger.index}-u{ledger.created}"
            return Op("create", user=User(name, self.new_password()), password="")
        if kind in ("login", "password", "deactivate"):
            user = self.rng.choice(active)
            return Op(kind, user=user, password=self.new_password() if kind == "password" else "")
        session = self.rng.choice(live)
        return Op(kind, user=session.user, session=session)

    def new_password(self):
        return "pw-%016x" % self.rng.getrandbits(64)

    def perform(self, op):
        admin = self.admin_token
        if op.kind == "create":
            body = {"username": op.user.name, "password": op.user.password}
            return call(self.address, "POST", "/api/users", body, admin)
        if op.kind == "login":
            body = {"username": op.user.name, "password": op.user.password}
            return call(self.address, "POST", "/api/auth/login", body)
        if op.kind == "password":
            body = {"password": op.password}
            return call(self.address, "PATCH", f"/api/users/{op.user.id}", body, admin)
        if op.kind == "deactivate":
            return call(self.address, "PATCH", f"/api/users/{op.user.id}", {"active": False}, admin)
        session = op.session
        if op.kind == "refresh":
            body = {"refresh_token": session.refresh}
            return call(self.address, "POST", "/api/auth/refresh", body)
        if op.kind == "me":
            return call(self.address, "GET", "/api/auth/me", token=session.access)
        if op.kind == "logout":
            return call(self.address, "POST", "/api/auth/logout", token=session.access)
        path = f"/api/users/{session.user.id}/sessions/{session.id}"
        return call(self.address, "DELETE", path, token=admin)

    def apply(self, op, status, body):
        """Records an answered operation; an unexpected answer is a violation."""
        expected = {"create": 201, "logout": 204, "revoke": 204}.get(op.kind, 200)
        if status != expected:
            raise Violation(
                f"cycle {self.cycle}: during load, {op.kind} for user '{op.user.name}'"
                + (f" session {op.session.id}" if op.session else "")
                + f" answered {status} {body} (expected {expected}; nothing had ended it)"
            )
        ledger = self.ledger
        cycle = self.cycle
        if op.kind == "create":
            op.user.id = body["id"]
            op.user.changed_in = cycle
            ledger.users.append(op.user)
        elif op.kind == "login":
            ledger.sessions.append(session_from(op.user, body, cycle))
        elif op.kind == "password":
            op.user.old_passwords.append((op.user.password, cycle))
            op.user.password = op.password
            op.user.changed_in = cycle
            ledger.end_all_of(op.user, "password change", cycle)
        elif op.kind == "deactivate":
            op.user.active = False
            op.user.deactivated_in = cycle
            ledger.end_all_of(op.user, "deactivation", cycle)
        elif op.kind == "refresh":
            record_rotation(op.session, body)
        elif op.kind in ("logout", "revoke"):
            ledger.end(op.session, op.kind, cycle)
        if op.kind != "me":
            ledger.count(op.kind)


def session_from(user, body, cycle):
    return Session(user, body["session_id"], body["access_token"], body["refresh_token"], cycle)


def record_rotation(session, body):
    """Records an acknowledged refresh of `session` that answered `body`."""
    if body.get("session_id") != session.id:
        raise Violation(
            f"a refresh of session {session.id} answered for session {body.get('session_id')}"
        )
    session.rotated.append((session.refresh, time.time()))
    session.refresh = body["refresh_token"]
    session.access = body["access_token"]
