"""Node loss (issue 20 item 4): two servers on one PostgreSQL database under a mixed load of
logins, logouts, session validations, API-key creations, revocations and exchanges, spread over
both; one is SIGKILLed mid-load. The survivor keeps serving without errors, every write either
node acknowledged is visible on it, and a session logout and a key revocation made on the killed
node just before the kill hold on the survivor within 1 s (the revocation feed's promise).

The figures are printed in the test output and recorded in docs/reliability.md.
"""
from __future__ import annotations

import secrets
import threading
import time

from harness import outage as o

PASSWORD = "a load user's password 42"
READER = "reader@example.com"
VICTIM = "victim@example.com"
LOGIN_USERS = {"a": ("a1@example.com", "a2@example.com"), "b": ("b1@example.com", "b2@example.com")}
AFTER_KILL_SECS = 3.0
PROMISE_SECS = 1.0


def login(base: str, email: str) -> o.Answer:
    return o.parsable(base, "login", {"email": email, "password": PASSWORD})


def current(base: str, token: str) -> o.Answer:
    return o.account(base, "/account/v1/sessions/current", token)


def exchange(base: str, secret: str) -> o.Answer:
    return o.nominal(base, "/api-key-internal/v1/access-token", {"apiKeyValue": secret})


class Cluster:
    """The load's view of both nodes: what was acknowledged, and what was tried but may not be."""

    def __init__(self, nodes: dict[str, str], reader: str) -> None:
        self.nodes, self.reader = nodes, reader
        self.rec, self.acks = o.Recorder(), o.Acks()
        self.tried_logout: set[str] = set()
        self.tried_revoke: set[str] = set()
        self.lock = threading.Lock()
        self.keys_made = 0
        self.dead: set[str] = set()     # killed nodes: their threads stop sending

    def alive(self, node: str) -> bool:
        if node in self.dead:
            time.sleep(0.05)
            return False
        return True

    def pick(self, kind: str, tried: set[str], index: int = -1) -> tuple[str, str] | None:
        with self.lock:
            live = [(k, v) for k, v in self.acks.snapshot()[kind].items() if k not in tried]
            return live[index] if live else None

    def login_step(self, node: str, email: str) -> None:
        if not self.alive(node):
            return
        a = self.rec.timed("login", node, lambda: login(self.nodes[node], email))
        if a.outcome == "ok":
            self.acks.add("sessions", a.value["sessionId"], a.value["authToken"])

    def validate_step(self, node: str) -> None:
        if not self.alive(node):
            return
        picked = self.pick("sessions", self.tried_logout)
        if picked:
            sid, token = picked
            self.rec.timed("validate", node, lambda: current(self.nodes[node], token), subject=sid)

    def logout_step(self, node: str) -> None:
        if not self.alive(node):
            return
        with self.lock:
            live = [(k, v) for k, v in self.acks.snapshot()["sessions"].items() if k not in self.tried_logout]
            if len(live) < 4:
                return
            sid, token = live[0]
            self.tried_logout.add(sid)
        a = self.rec.timed("logout", node, lambda: o.parsable(self.nodes[node], "logout", token=token), subject=sid)
        if a.outcome == "ok":
            self.acks.add("logged_out", sid, token)

    def key_step(self, node: str) -> None:
        if not self.alive(node):
            return
        with self.lock:
            self.keys_made += 1
            n = self.keys_made
        body = {"apiKeyName": f"load-{n}", "expiresAfterDays": None}
        a = self.rec.timed("create_key", node, lambda: o.nominal(self.nodes[node], "/authorization/v1/api-key",
                                                                 body, self.reader))
        if a.outcome != "ok":
            return
        rid, secret = a.value["apiKeyMetadata"]["rid"], a.value["apiKeyValue"]
        self.acks.add("keys", rid, secret)
        if n % 2 == 0:
            with self.lock:
                self.tried_revoke.add(rid)
            r = self.rec.timed("revoke_key", node, lambda: o.nominal(
                self.nodes[node], f"/authorization/v1/api-key/{rid}/delete", None, self.reader, method="PUT"),
                subject=rid)
            if r.outcome == "ok":
                self.acks.add("revoked_keys", rid, secret)

    def exchange_step(self, node: str) -> None:
        if not self.alive(node):
            return
        picked = self.pick("keys", self.tried_revoke)
        if picked:
            rid, secret = picked
            self.rec.timed("exchange", node, lambda: exchange(self.nodes[node], secret), subject=rid)

    def unexplained(self, calls: list[o.Call]) -> list[o.Call]:
        """Calls that failed for no reason the load knows of: a refusal is explained only for a
        session or key whose revocation was tried."""
        out = []
        for c in calls:
            if c.outcome == "ok":
                continue
            if c.outcome == "refused" and (c.subject in self.tried_logout or c.subject in self.tried_revoke):
                continue
            out.append(c)
        return out


def revoke_then_kill(cluster: Cluster, srv_a, a_url: str, b_url: str) -> dict:
    """On A: a fresh session and key, both seen valid on B (B caches the key), then logged out
    and revoked on A; SIGKILL A at once. Returns the tokens and the acknowledgement times."""
    s = login(a_url, VICTIM)
    assert s.outcome == "ok", s.detail
    token = s.value["authToken"]
    k = o.nominal(a_url, "/authorization/v1/api-key", {"apiKeyName": "victim", "expiresAfterDays": None},
                  cluster.reader)
    assert k.outcome == "ok", k.detail
    rid, secret = k.value["apiKeyMetadata"]["rid"], k.value["apiKeyValue"]
    assert current(b_url, token).outcome == "ok", "the victim's session is not valid on B"
    assert exchange(b_url, secret).outcome == "ok", "the victim's key does not work on B"
    out = o.parsable(a_url, "logout", token=token)
    t_logout = time.monotonic()
    revoked = o.nominal(a_url, f"/authorization/v1/api-key/{rid}/delete", None, cluster.reader, method="PUT")
    t_revoke = time.monotonic()
    srv_a.proc.kill()
    t_kill = time.monotonic()
    cluster.dead.add("a")
    assert out.outcome == "ok" and revoked.outcome == "ok", (out, revoked)
    srv_a.proc.wait(timeout=10)
    return {"token": token, "secret": secret, "t_logout": t_logout, "t_revoke": t_revoke, "t_kill": t_kill}


def watch_revocation(probe, acked_at: float) -> tuple[list[tuple[float, str]], float | None]:
    """Probes until refused (at most 10 s). Returns [(start offset from the ack, outcome)] and the
    offset of the first refusal."""
    seen: list[tuple[float, str]] = []
    while time.monotonic() - acked_at < 10:
        t0 = time.monotonic() - acked_at
        outcome = probe().outcome
        seen.append((t0, outcome))
        if outcome == "refused":
            return seen, t0
        time.sleep(0.02)
    return seen, None


def test_sigkill_one_of_two_nodes_mid_load(request, postgres_database, server_factory):
    url = postgres_database()
    env = {"PORTCULLIS_MASTER_KEY": secrets.token_hex(32)}   # both nodes open the same sealed keys
    srv_a = server_factory(database_url=url, env=env, config=o.SERVER_CONFIG)
    srv_b = server_factory(database_url=url, env=env, config=o.SERVER_CONFIG)
    srv_a.admin.create_org("acme")
    for email in (READER, VICTIM, *LOGIN_USERS["a"], *LOGIN_USERS["b"]):
        srv_a.admin.create_user(email, name=email.split("@")[0], password=PASSWORD)
        srv_a.admin.add_member("acme", email, "AUTHOR")
    nodes = {"a": srv_a.base_url, "b": srv_b.base_url}
    reader = login(nodes["b"], READER)
    assert reader.outcome == "ok", reader.detail
    cluster = Cluster(nodes, reader.value["authToken"])

    load = o.Load()
    for node, users in LOGIN_USERS.items():
        for email in users:
            load.run(f"login-{email}", lambda node=node, email=email: cluster.login_step(node, email))
        load.run(f"validate-{node}", lambda node=node: cluster.validate_step(node), pause=0.01)
        load.run(f"exchange-{node}", lambda node=node: cluster.exchange_step(node), pause=0.02)
    load.run("logout-a", lambda: cluster.logout_step("a"), pause=0.05)
    load.run("logout-b", lambda: cluster.logout_step("b"), pause=0.05)
    load.run("keys-a", lambda: cluster.key_step("a"), pause=0.1)
    load.run("keys-b", lambda: cluster.key_step("b"), pause=0.1)
    try:
        warm, _ = o.poll(lambda: (len(cluster.acks.snapshot()["logged_out"]) >= 3
                                  and len(cluster.acks.snapshot()["revoked_keys"]) >= 2
                                  and len(cluster.rec.calls(node="a", outcome="ok")) >= 20), timeout=60, interval=0.1)
        assert warm, f"the load did not get going: {cluster.rec.counts(cluster.rec.calls())}"
        victim = revoke_then_kill(cluster, srv_a, nodes["a"], nodes["b"])
        t_kill = victim["t_kill"]
        session_seen, session_refused = watch_revocation(lambda: current(nodes["b"], victim["token"]),
                                                         victim["t_logout"])
        key_seen, key_refused = watch_revocation(lambda: exchange(nodes["b"], victim["secret"]),
                                                 victim["t_revoke"])
        time.sleep(max(0.0, t_kill + AFTER_KILL_SECS - time.monotonic()))
        b_ready = o.ready(nodes["b"])
    finally:
        load.stop()

    rec = cluster.rec
    b_after = rec.calls(since=t_kill, node="b")
    b_failed = cluster.unexplained(b_after)
    b_before_failed = cluster.unexplained(rec.calls(until=t_kill, node="b"))
    a_lost = [c for c in rec.calls(node="a", until=t_kill) if c.outcome == "error"]
    a_failed_before = [c for c in cluster.unexplained(rec.calls(until=t_kill, node="a")) if c.t1 < t_kill]
    checks = verify_on_survivor(cluster, nodes["b"])
    o.report(request, "Node loss (SIGKILL one of two servers on one PostgreSQL database)", {
        "requests on B after the kill": f"{len(b_after)} ({o.latency_summary(b_after)})",
        "failures on B after the kill": len(b_failed),
        "requests in flight on A at the kill (no answer)": len(a_lost),
        "logout on A seen on B after": f"{session_refused:.3f}s" if session_refused is not None else "never",
        "key revocation on A seen on B after": f"{key_refused:.3f}s" if key_refused is not None else "never",
        "acknowledged writes checked on B / lost": f"{checks} / 0",
        "B /readyz after the kill": "200" if b_ready else "not ready",
    })
    assert not b_before_failed and not a_failed_before, \
        f"failures before the kill:\n{rec.describe(b_before_failed + a_failed_before)}"
    assert not b_failed, f"{len(b_failed)} of {len(b_after)} requests on B failed after the kill:\n" \
                         f"{rec.describe(b_failed)}"
    assert len(b_after) >= 20, f"B served only {len(b_after)} requests after the kill"
    assert b_ready, "B's /readyz is not 200 after A's death"
    for name, seen, refused in (("session logout", session_seen, session_refused),
                                ("key revocation", key_seen, key_refused)):
        assert refused is not None, f"the {name} made on A never held on B: {seen[-5:]}"
        late = [(t, outcome) for t, outcome in seen if t >= PROMISE_SECS and outcome == "ok"]
        assert not late, f"the {name} made on A was still accepted on B {late[0][0]:.2f}s after it: {seen}"


def verify_on_survivor(cluster: Cluster, b_url: str) -> int:
    """Every write acknowledged by either node, seen on B: sessions valid unless logged out,
    logouts refused, keys exchangeable unless revoked, revocations refused."""
    acks = cluster.acks.snapshot()
    problems = []
    for sid, token in acks["sessions"].items():
        a = current(b_url, token)
        if sid in acks["logged_out"]:
            want = "refused"
        elif sid in cluster.tried_logout:
            continue        # a logout cut by the kill may or may not have happened
        else:
            want = "ok"
        if a.outcome != want:
            problems.append(f"session {sid}: {a.outcome}, want {want} ({a.detail[:100]})")
    for rid, secret in acks["keys"].items():
        if rid in cluster.tried_revoke and rid not in acks["revoked_keys"]:
            continue
        want = "refused" if rid in acks["revoked_keys"] else "ok"
        a = exchange(b_url, secret)
        if a.outcome != want:
            problems.append(f"key {rid}: {a.outcome}, want {want} ({a.detail[:100]})")
    assert not problems, f"{len(problems)} acknowledged writes not as acknowledged on B:\n" + "\n".join(problems[:10])
    assert acks["sessions"] and acks["keys"] and acks["logged_out"] and acks["revoked_keys"], acks.keys()
    return sum(len(v) for v in acks.values())

