"""The checks after each restart: first the operations whose outcome is unknown (in flight
at the kill) are resolved by asking the server, with their consistency checked; then
every acknowledged write is held against the restarted server.

The invariants: no acknowledged user is lost; a rotated refresh token is refused after
the grace window, and presenting it ends the session; an ended session accepts neither
its access token nor its refresh token; a deactivated user has no usable token and
cannot log in; a changed-away password is refused. This module only reads the ledgers
and records what it finds; it never drives load.
"""

import time

from crash_load import Session, Violation, call, record_rotation

# Slack between the client's and the server's reading of the same wall clock, in seconds.
CLOCK_MARGIN_SECONDS = 0.25


class Checker:
    def __init__(self, address, admin_token, grace_seconds, cycle, final, rng, checks):
        self.address = address
        self.admin_token = admin_token
        self.grace = grace_seconds
        self.cycle = cycle
        self.final = final
        self.rng = rng
        self.checks = checks  # kind -> number of assertions made, over the whole run
        self.violations = []
        self.listed = {}

    # Requests, each answering only the status unless the body is needed.

    def login(self, name, password):
        body = {"username": name, "password": password}
        return call(self.address, "POST", "/api/auth/login", body)[0]

    def me(self, access):
        return call(self.address, "GET", "/api/auth/me", token=access)[0]

    def refresh(self, token):
        return call(self.address, "POST", "/api/auth/refresh", {"refresh_token": token})

    # Bookkeeping.

    def fail(self, message):
        self.violations.append(f"cycle {self.cycle}: {message}")

    def expect(self, kind, status, wanted, message):
        """Counts one assertion of `kind`; a status other than `wanted` is a violation."""
        self.checks[kind] = self.checks.get(kind, 0) + 1
        if status != wanted:
            self.fail(f"{message} (answered {status}, expected {wanted})")
            return False
        return True

    def age(self, rotation):
        return time.time() - rotation[1]

    def past_grace(self, rotation):
        return self.age(rotation) > self.grace + CLOCK_MARGIN_SECONDS

    # The pass.

    def run(self, ledgers):
        """Checks every ledger against the restarted server; returns the violations."""
        self.expect(
            "login", self.me(self.admin_token), 200,
            "the administrator's session (login acknowledged before the first kill) "
            "no longer accepts its access token",
        )
        status, body = call(self.address, "GET", "/api/users", token=self.admin_token)
        if status != 200:
            self.fail(f"the user list answered {status}")
            return self.violations
        self.listed = {user["username"]: user for user in body["users"]}
        for ledger in ledgers:
            self.resolve_unknown(ledger)
        if self.final:
            self.wait_out_grace(ledgers)
        for ledger in ledgers:
            self.check_users(ledger)
            self.check_ended_sessions(ledger)
            self.check_live_sessions(ledger)
        return self.violations

    def wait_out_grace(self, ledgers):
        """The one deliberate wait: before the last pass, until every acknowledged rotation
        is past the grace window, so every rotated token can be presented again."""
        newest = [
            s.rotated[-1][1] for ledger in ledgers for s in ledger.sessions if s.rotated
        ]
        wait = max(newest, default=0) + self.grace + CLOCK_MARGIN_SECONDS - time.time()
        if wait > 0:
            self.checks["waited seconds"] = round(wait, 2)
            time.sleep(wait)

    # Unknown outcomes: either is allowed, but the server must be consistent about it.

    def resolve_unknown(self, ledger):
        for op in ledger.unknown:
            resolve = getattr(self, "resolve_" + op.kind, None)
            if resolve is not None:
                resolve(ledger, op)
            self.checks["unknown outcome"] = self.checks.get("unknown outcome", 0) + 1
            if op.session is not None:
                op.session.uncertain = False
            op.user.uncertain = False
        ledger.unknown.clear()

    def resolve_create(self, ledger, op):
        listed = self.listed.get(op.user.name)
        if listed is None:
            return
        op.user.id = listed["id"]
        op.user.changed_in = self.cycle
        ledger.users.append(op.user)

    def resolve_password(self, ledger, op):
        user = op.user
        new = self.login(user.name, op.password)
        old = self.login(user.name, user.password)
        self.checks["password"] = self.checks.get("password", 0) + 1
        if sorted((new, old)) != [200, 401]:
            self.fail(f"user '{user.name}': after a password change with unknown outcome, "
                      f"a login with the new password answered {new} and with the old one "
                      f"{old} (expected exactly one of them 200, the other 401)")
        elif new == 200:
            user.old_passwords.append((user.password, self.cycle))
            user.password = op.password
            user.changed_in = self.cycle
            # The change ends the user's sessions in the same write: the ended-session
            # checks below hold the server to that.
            ledger.end_all_of(user, "password change (unknown outcome, found done)", self.cycle)

    def resolve_deactivate(self, ledger, op):
        listed = self.listed.get(op.user.name)
        if listed is not None and not listed["active"]:
            op.user.active = False
            op.user.deactivated_in = self.cycle
            ledger.end_all_of(op.user, "deactivation (unknown outcome, found done)", self.cycle)

    def resolve_refresh(self, ledger, op):
        session = op.session
        if session.rotated and self.past_grace(session.rotated[-1]):
            # Its acknowledged predecessor is past the grace window: whatever happened to
            # the refresh in flight, presenting the predecessor must end the session.
            self.check_reuse(ledger, session)
            return
        status, body = self.refresh(session.refresh)
        if status == 200:
            # Not rotated before the kill, or rotated within the grace window (then this
            # is the same successor): either way the session goes on.
            record_rotation(session, body)
        elif self.expect("refresh", status, 401, f"session {session.id}: refresh answered"):
            # Rotated before the kill and now past the grace window: a reuse, which ends it.
            self.expect("refresh", self.me(session.access), 401,
                        f"session {session.id}: its refresh token was refused as reused "
                        "after a refresh with unknown outcome, yet its access token still works")
            ledger.end(session, "reuse after a refresh with unknown outcome", self.cycle)

    def resolve_logout(self, ledger, op):
        session = op.session
        status = self.me(session.access)
        if status == 200:
            refreshed, body = self.refresh(session.refresh)
            if self.expect(op.kind, refreshed, 200,
                           f"session {session.id}: after a {op.kind} with unknown outcome its "
                           "access token works but its refresh token is refused"):
                record_rotation(session, body)
        elif self.expect(op.kind, status, 401, f"session {session.id}: /api/auth/me answered"):
            self.expect(op.kind, self.refresh(session.refresh)[0], 401,
                        f"session {session.id}: after a {op.kind} with unknown outcome its "
                        "access token is refused but its refresh token still works")
            ledger.end(session, f"{op.kind} (unknown outcome, found done)", self.cycle)

    resolve_revoke = resolve_logout

    # Acknowledged writes.

    def fresh(self, cycle):
        """Whether a check that costs a password hash runs for a write of `cycle`: in the
        first pass after it, and in the last pass."""
        return self.final or cycle == self.cycle

    def check_users(self, ledger):
        fresh = self.fresh
        for user in ledger.users:
            listed = self.listed.get(user.name)
            if not self.expect("create", listed is not None and listed["id"] == user.id, True,
                               f"user '{user.name}' ({user.id}), created with an acknowledged "
                               "201, is missing from the user list"):
                continue
            if not user.active:
                self.expect("deactivate", listed["active"], False,
                            f"user '{user.name}' was deactivated (acknowledged in cycle "
                            f"{user.deactivated_in}) but is listed as active")
                if fresh(user.deactivated_in):
                    self.expect("deactivate", self.login(user.name, user.password), 401,
                                f"deactivated user '{user.name}' logged in")
            else:
                self.expect("create", listed["active"], True,
                            f"user '{user.name}' is listed inactive though no deactivation "
                            "was acknowledged")
                if fresh(user.changed_in):
                    kind = "password" if user.old_passwords else "create"
                    self.expect(kind, self.login(user.name, user.password), 200,
                                f"user '{user.name}' cannot log in with its current password "
                                f"(acknowledged in cycle {user.changed_in})")
            for old, cycle in user.old_passwords:
                if fresh(cycle):
                    self.expect("password", self.login(user.name, old), 401,
                                f"user '{user.name}' logged in with the password changed "
                                f"away from in cycle {cycle} (acknowledged)")

    def check_ended_sessions(self, ledger):
        for session in ledger.ended:
            kind = kind_of(session.ended_by)
            what = (f"session {session.id} of '{session.user.name}', ended by "
                    f"{session.ended_by} in cycle {session.ended_in}")
            self.expect(kind, self.me(session.access), 401, f"{what}: its access token works")
            self.expect(kind, self.refresh(session.refresh)[0], 401,
                        f"{what}: its refresh token works")
            if self.final:
                for token, _ in session.rotated[-5:]:
                    self.expect("refresh", self.refresh(token)[0], 401,
                                f"{what}: a refresh token it rotated away from works")

    def check_live_sessions(self, ledger):
        for session in list(ledger.sessions):
            if session.uncertain:
                continue
            if not self.expect("login", self.me(session.access), 200,
                               f"session {session.id} of '{session.user.name}' (login "
                               f"acknowledged in cycle {session.started_in}, no end "
                               "acknowledged) refuses its access token"):
                continue
            if not session.rotated or not self.past_grace(session.rotated[-1]):
                continue
            # Presenting a rotated token ends the session, so only some are checked in
            # each pass (the others carry on under load), and every one in the last pass.
            if self.final or self.rng.random() < 0.5:
                self.check_reuse(ledger, session)

    def check_reuse(self, ledger, session: Session):
        newest = session.rotated[-1]
        age = self.age(newest)
        status, _ = self.refresh(newest[0])
        self.expect("refresh", status, 401,
                    f"session {session.id}: a refresh token rotated away from {age:.1f} s ago "
                    f"(acknowledged; grace window {self.grace} s) was accepted again")
        self.expect("refresh", self.refresh(session.refresh)[0], 401,
                    f"session {session.id}: reuse of a rotated refresh token did not end the "
                    "session: its newest refresh token still works")
        self.expect("refresh", self.me(session.access), 401,
                    f"session {session.id}: reuse of a rotated refresh token did not end the "
                    "session: its access token still works")
        for token, _ in session.rotated[-6:-1]:
            self.expect("refresh", self.refresh(token)[0], 401,
                        f"session {session.id}: an older rotated refresh token works")
        ledger.end(session, "reuse of a rotated refresh token", self.cycle)


def kind_of(ended_by):
    """The acknowledged write an ended session is evidence for."""
    for prefix, kind in (("password", "password"), ("deactivation", "deactivate"),
                         ("reuse", "refresh"), ("logout", "logout"), ("revoke", "revoke")):
        if ended_by.startswith(prefix):
            return kind
    return ended_by


def raise_if(violations):
    if violations:
        raise Violation("\n".join(violations))
