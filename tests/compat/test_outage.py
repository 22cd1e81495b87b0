"""Database outages (issue 20 item 3), measured against the real binary.

PostgreSQL: a private server (harness/pg_instance.py, never the machine's shared cluster) is
stopped (`pg_ctl stop -m immediate`, as a crash) under a mixed load of Parsable logins and
logouts, Nominal API-key creation and revocation, and account-API reads, then started again.
Every answer must be a success or the surface's own "unavailable" answer, none later than the
request timeout; /readyz must turn 503 within seconds, the server must recover by itself, and
afterwards every acknowledged write (sessions, keys, revocations, their audit records) must be in
the database, every revocation with its feed event, and no session nobody was given.

SQLite: the database file is made read-only and the server started on it (a running server keeps
the file it opened, so only a new connection sees the mode): reads keep working, writes answer
"unavailable", and writes succeed again as soon as the file is writable.

The figures are printed in the test output and recorded in docs/reliability.md.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from harness import outage as o
from harness.pg_instance import PgInstance, PgInstanceError
from harness.server import start_with_port_retry

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# One account per login thread: an account's password check runs one attempt at a time.
READER, LOGIN_USERS = "reader@example.com", ("load1@example.com", "load2@example.com")
PASSWORD = "a load user's password 42"
OUTAGE_SECS = 4.0


@pytest.fixture
def private_pg(request):
    """A private PostgreSQL server this test may stop and start."""
    try:
        pg = PgInstance()
    except PgInstanceError as e:
        if IN_CI:
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))
    request.node._pg_instances = [pg]
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def add_load_users(srv) -> None:
    srv.admin.create_org("acme")
    for email in (READER, *LOGIN_USERS):
        srv.admin.create_user(email, name=email.split("@")[0], password=PASSWORD)
        srv.admin.add_member("acme", email, "AUTHOR")


def login(base: str, email: str) -> o.Answer:
    return o.parsable(base, "login", {"email": email, "password": PASSWORD})


def start_mixed_load(base: str, rec: o.Recorder, acks: o.Acks, reader: str) -> tuple[o.Load, set[str]]:
    """Two login threads, one logging out earlier logins, one creating API keys and revoking every
    other one, one listing sessions. Returns the load and the session ids whose logout was tried
    (an unacknowledged logout may or may not have happened)."""
    load = o.Load()
    tried_logout: set[str] = set()
    keys_made = [0]

    def login_step(email: str) -> None:
        a = rec.timed("login", "a", lambda: login(base, email))
        if a.outcome == "ok":
            acks.add("sessions", a.value["sessionId"], a.value["authToken"])

    def logout_step() -> None:
        pending = [(sid, tok) for sid, tok in acks.snapshot()["sessions"].items() if sid not in tried_logout]
        if len(pending) < 2:
            return
        sid, token = pending[0]
        tried_logout.add(sid)
        if rec.timed("logout", "a", lambda: o.parsable(base, "logout", token=token)).outcome == "ok":
            acks.add("logged_out", sid, token)

    def key_step() -> None:
        keys_made[0] += 1
        body = {"apiKeyName": f"load-{keys_made[0]}", "expiresAfterDays": None}
        a = rec.timed("create_key", "a", lambda: o.nominal(base, "/authorization/v1/api-key", body, reader))
        if a.outcome != "ok":
            return
        rid, secret = a.value["apiKeyMetadata"]["rid"], a.value["apiKeyValue"]
        acks.add("keys", rid, secret)
        if keys_made[0] % 2 == 0:
            r = rec.timed("revoke_key", "a", lambda: o.nominal(
                base, f"/authorization/v1/api-key/{rid}/delete", None, reader, method="PUT"))
            if r.outcome == "ok":
                acks.add("revoked_keys", rid, secret)

    def read_step() -> None:
        rec.timed("list_sessions", "a", lambda: o.account(base, "/account/v1/sessions", reader))

    for i, email in enumerate(LOGIN_USERS):
        load.run(f"login-{i}", lambda email=email: login_step(email))
    load.run("logout", logout_step, pause=0.1)
    load.run("keys", key_step, pause=0.1)
    load.run("reads", read_step, pause=0.02)
    return load, tried_logout


def writes_ok(rec: o.Recorder, since: float) -> list[o.Call]:
    return [c for c in rec.calls(since=since, outcome="ok") if c.op in ("login", "logout", "create_key", "revoke_key")]


def in_clause(values) -> str:
    return ",".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


def test_postgres_outage_fails_fast_and_recovers_without_losing_writes(request, private_pg, server_factory):
    url = private_pg.create_database("portcullis")
    srv = server_factory(database_url=url, config=o.SERVER_CONFIG)
    add_load_users(srv)
    base = srv.base_url
    first = login(base, READER)
    assert first.outcome == "ok", first.detail
    reader = first.value["authToken"]
    rec, acks = o.Recorder(), o.Acks()
    load, tried_logout = start_mixed_load(base, rec, acks, reader)
    try:
        warm, _ = o.poll(lambda: len(acks.snapshot()["sessions"]) >= 6 and len(acks.snapshot()["keys"]) >= 4,
                         timeout=60, interval=0.1)
        assert warm, f"the load did not get going: {rec.counts(rec.calls())}"

        t_stop = time.monotonic()
        private_pg.stop("immediate")
        t_stopped = time.monotonic()
        not_ready, not_ready_after = o.poll(lambda: o.ready(base) is False, timeout=30)
        assert not_ready, "/readyz still 200 thirty seconds after the database stopped"
        time.sleep(max(0.0, t_stopped + OUTAGE_SECS - time.monotonic()))

        private_pg.start()
        t_started = time.monotonic()
        back, ready_after = o.poll(lambda: o.ready(base) is True, timeout=60)
        assert back, "/readyz not 200 again within 60 s of the database's return"
        recovered, _ = o.poll(lambda: writes_ok(rec, t_started), timeout=60)
        assert recovered, "no write succeeded within 60 s of the database's return"
        # A login cut by the outage holds its account's password-check claim for its 10 s lease.
        logged_in, _ = o.poll(lambda: [c for c in rec.calls(since=t_started, outcome="ok") if c.op == "login"],
                              timeout=60)
        assert logged_in, "no login succeeded within 60 s of the database's return"
        time.sleep(2.0)
    finally:
        load.stop()

    calls = rec.calls()
    errors = [c for c in calls if c.outcome in ("error", "refused")]
    assert not errors, f"{len(errors)} answers were neither a success nor 'unavailable':\n{rec.describe(errors)}"
    during = rec.calls(since=t_stopped, until=t_started)
    slow = [c for c in calls if c.latency >= o.REQUEST_TIMEOUT_SECS]
    assert not slow, f"answers at or past the request timeout:\n{rec.describe(slow)}"
    for op in ("login", "create_key", "list_sessions"):
        assert any(c.op == op and c.outcome == "unavailable" for c in during), \
            f"no 'unavailable' {op} during the outage: {rec.counts([c for c in during if c.op == op])}"
    settled = rec.calls(since=t_stopped + 1.0, until=t_started)
    failed = rec.calls(since=t_stopped, outcome="unavailable")
    recovered_at = min(c.t1 for c in recovered)

    checks = verify_postgres_writes(private_pg, base, acks.snapshot(), tried_logout, first.value["sessionId"])
    o.report(request, "PostgreSQL outage (pg_ctl stop -m immediate)", {
        "pg_ctl stop -m immediate took": f"{t_stopped - t_stop:.2f}s",
        "readyz 503 after the stop": f"{not_ready_after:.2f}s",
        "answers in the first second (detection)": o.latency_summary(rec.calls(since=t_stop,
                                                                              until=t_stop + 1.0)),
        "answers once detected (fail fast)": o.latency_summary(settled),
        "answers during the outage": json.dumps(rec.counts(during)),
        "readyz 200 after the start": f"{ready_after:.2f}s",
        "first successful write after the start": f"{recovered_at - t_started:.2f}s",
        "first successful login after the start": f"{min(c.t1 for c in logged_in) - t_started:.2f}s",
        "requests answered 'unavailable' (lost, retryable)": len([c for c in failed if c.t0 < recovered_at]),
        "answered 'rate limited' (a login claim cut by the outage)": len(rec.calls(outcome="throttled")),
        "other failures": len(errors),
        "acknowledged writes checked / lost": f"{checks['checked']} / 0",
        "logins refused after their session was written (server log)": srv.stderr_path.read_text(
            errors="replace").count("could not end the session of a refused login"),
        "their sessions still live at the first check (then ended)": checks["orphans"],
    })
    assert not_ready_after <= 10, f"/readyz took {not_ready_after:.1f}s to turn 503"
    assert recovered_at - t_started <= 15, f"recovery took {recovered_at - t_started:.1f}s"


def verify_postgres_writes(pg: PgInstance, base: str, acks: dict, tried_logout: set[str], reader: str) -> dict:
    """Every acknowledged write is in the database, revocations with their feed events, and no
    session was left that no client was given. Returns counts for the report."""
    db = "portcullis"
    sessions, logged_out = acks["sessions"], acks["logged_out"]
    keys, revoked_keys = acks["keys"], acks["revoked_keys"]
    rows = pg.psql(f"SELECT id, revoked_at IS NOT NULL FROM sessions WHERE id IN ({in_clause(sessions)})", db)
    state = {sid: revoked == "t" for sid, revoked in rows}
    missing = sorted(set(sessions) - set(state))
    assert not missing, f"{len(missing)} acknowledged logins lost: {missing[:5]}"
    not_revoked = [sid for sid in logged_out if not state[sid]]
    assert not not_revoked, f"acknowledged logouts not in the database: {not_revoked[:5]}"
    wrongly = [sid for sid, revoked in state.items() if revoked and sid not in tried_logout]
    assert not wrongly, f"sessions revoked that nobody logged out: {wrongly[:5]}"

    key_ids = {rid: rid.rsplit(".", 1)[-1] for rid in keys}
    rows = pg.psql(f"SELECT id, revoked_at IS NOT NULL FROM credentials WHERE id::text IN "
                   f"({in_clause(key_ids.values())})", db)
    key_state = {kid: revoked == "t" for kid, revoked in rows}
    lost_keys = [rid for rid, kid in key_ids.items() if kid not in key_state]
    assert not lost_keys, f"{len(lost_keys)} acknowledged API keys lost: {lost_keys[:5]}"
    unrevoked = [rid for rid in revoked_keys if not key_state[key_ids[rid]]]
    assert not unrevoked, f"acknowledged key revocations lost: {unrevoked[:5]}"

    # Half-written revocations: every revoked session and key has its feed event (same transaction).
    (orphan_revocations,), = pg.psql(
        "SELECT (SELECT count(*) FROM sessions s WHERE s.revoked_at IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM revocation_events e WHERE e.kind = 'session' AND e.subject = s.id)) + "
        "(SELECT count(*) FROM credentials c WHERE c.revoked_at IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM revocation_events e WHERE e.kind = 'credential' AND e.subject = c.id::text))", db)
    assert orphan_revocations == "0", f"{orphan_revocations} revocations without their feed event"

    # The audit queue survived the outage: each acknowledged login has its success record.
    audited, _ = o.poll(lambda: audited_logins(pg, db) >= set(sessions), timeout=20, interval=0.5)
    assert audited, f"audit records missing for {len(set(sessions) - audited_logins(pg, db))} acknowledged logins"

    # Sessions no client was given: written by a login that then answered "unavailable". The
    # server ends them once the store answers again (retrying every second at most).
    def orphans() -> list[str]:
        live = {row[0] for row in pg.psql(
            f"SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email_norm IN "
            f"({in_clause((READER, *LOGIN_USERS))}) AND s.revoked_at IS NULL", db)}
        return sorted(live - set(sessions) - {reader})
    pending = orphans()
    ended, _ = o.poll(lambda: not orphans(), timeout=15, interval=0.5)
    assert ended, f"live sessions that no client was given, 15 s after the checks began: {orphans()[:5]}"

    # Over HTTP, on the recovered server: the keys still work or stay revoked.
    for rid, secret in keys.items():
        a = o.nominal(base, "/api-key-internal/v1/access-token", {"apiKeyValue": secret})
        want = "refused" if rid in revoked_keys else "ok"
        assert a.outcome == want, f"API key {rid}: {a.outcome}, want {want}: {a.detail}"
    return {"checked": len(sessions) + len(logged_out) + len(keys) + len(revoked_keys), "orphans": len(pending)}


def audited_logins(pg: PgInstance, db: str) -> set[str]:
    out = set()
    for (detail,) in pg.psql("SELECT detail FROM audit_events WHERE action = 'login' AND outcome = 'success'", db):
        try:
            out.add(json.loads(detail).get("session"))
        except ValueError:
            pass
    return out


# --- SQLite made read-only ------------------------------------------------------------------------

@pytest.fixture
def sqlite_dir():
    """A data directory the server can use while the test changes its modes. Under root, whom
    modes do not bind, the server runs as `nobody`, which then owns the directory."""
    root = Path(tempfile.mkdtemp(prefix="portcullis-ro-"))
    os.chmod(root, 0o755)
    data = root / "data"
    data.mkdir()
    user = None
    if os.geteuid() == 0:
        user = "nobody"
        pw = pwd.getpwnam(user)
        os.chown(data, pw.pw_uid, pw.pw_gid)
    try:
        yield root, data, user
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_sqlite_read_only_file_refuses_writes_keeps_reads_and_recovers(request, server_factory, sqlite_dir):
    root, data, user = sqlite_dir
    srv = server_factory(start=False)
    srv.data_dir, srv.run_as = data, user
    config = root / "portcullis.toml"
    config.write_text(o.SERVER_CONFIG)
    srv.config_path = config
    start_with_port_retry(srv)
    base = srv.base_url
    admin = o.parsable(base, "login", {"email": srv.admin_email, "password": srv.admin_password})
    assert admin.outcome == "ok", admin.detail
    token = admin.value["authToken"]
    made = o.nominal(base, "/authorization/v1/api-key", {"apiKeyName": "before", "expiresAfterDays": None}, token)
    assert made.outcome == "ok", made.detail
    key = made.value["apiKeyValue"]

    # A running server keeps the file it opened: the mode bites from the next open on. Killed, as
    # in a crash, so SQLite's -wal and -shm stay as they are (writable): after a clean stop
    # SQLite creates new ones with the database file's mode, and a read-only -shm keeps every
    # connection of the process read-only until all are closed (docs/reliability.md).
    srv.proc.kill()
    srv.proc.wait(timeout=10)
    db = data / "portcullis.db"
    os.chmod(db, 0o444)
    t0 = time.monotonic()
    start_with_port_retry(srv)
    started_after = time.monotonic() - t0
    assert o.ready(base) is True, "a read-only store still serves reads: /readyz should be 200"

    reads = [
        ("list_sessions", lambda: o.account(base, "/account/v1/sessions", token)),
        ("key_exchange", lambda: o.nominal(base, "/api-key-internal/v1/access-token", {"apiKeyValue": key})),
    ]
    writes = [
        ("login", lambda: o.parsable(base, "login", {"email": srv.admin_email, "password": srv.admin_password})),
        ("create_key", lambda: o.nominal(base, "/authorization/v1/api-key",
                                         {"apiKeyName": "during", "expiresAfterDays": None}, token)),
        ("logout", lambda: o.parsable(base, "logout", token=token)),
    ]
    rec = o.Recorder()
    for _ in range(3):
        for op, call in reads + writes:
            rec.timed(op, "sqlite", call)
    read_only = rec.calls()
    bad = [c for c in read_only if c.outcome != ("ok" if c.op in dict(reads) else "unavailable")]
    assert not bad, f"while read-only, reads must work and writes answer 'unavailable':\n{rec.describe(bad)}"

    modes = {f.name: oct(f.stat().st_mode & 0o777) for f in sorted(data.glob("portcullis.db*"))}
    os.chmod(db, 0o644)
    t_writable = time.monotonic()
    recovered, recovered_after = o.poll(
        lambda: rec.timed("create_key", "sqlite", writes[1][1]).outcome == "ok", timeout=15, interval=0.1)
    assert recovered, (f"writes still refused 15 s after the file is writable (modes while read-only: "
                       f"{modes}):\n{rec.describe(rec.calls()[-3:])}")
    refused_after = [c for c in rec.calls(since=t_writable) if c.outcome != "ok"]
    again = o.parsable(base, "login", {"email": srv.admin_email, "password": srv.admin_password})
    assert again.outcome == "ok", again.detail
    assert o.account(base, "/account/v1/sessions", token).outcome == "ok", "the session outlived the outage"

    o.report(request, "SQLite database file read-only", {
        "server start on the read-only file": f"{started_after:.2f}s (/readyz 200)",
        "reads while read-only": o.latency_summary([c for c in read_only if c.op in dict(reads)]),
        "writes while read-only ('unavailable')": o.latency_summary([c for c in read_only if c.op not in dict(reads)]),
        "files while read-only": ", ".join(f"{k} {v}" for k, v in modes.items()),
        "first successful write after chmod 0644": f"{recovered_after:.2f}s",
        "writes refused after the file was writable": len(refused_after),
    })
