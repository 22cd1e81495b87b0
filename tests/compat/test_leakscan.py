"""The log scanner of harness/leakscan.py can fail: a server that logs a known secret is caught.

The access log records each request's path (crates/server: `request finished … path=…`), so a secret
put in the path of an unknown route lands in the server's stdout. The session-end check
(conftest.pytest_sessionfinish) runs the same `leakscan.scan` over every server log of the run.
"""
from __future__ import annotations

import secrets

from harness import leakscan


def test_scanner_reports_a_secret_the_server_logged(server):
    fake = "nominal_api_key_" + secrets.token_urlsafe(24)       # shaped like an API key, never issued
    jwt_like = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0." + secrets.token_urlsafe(32)
    # Local tables only: these are not registered, so the session-end scan does not count them.
    table = {fake: "api_key", jwt_like.split(".")[2]: "access_token/signature"}
    logs = [server.stdout_path, server.stderr_path]
    assert leakscan.scan(logs, table) == [], "the fresh server's log already holds the fake secret"

    assert server.get(f"/no-such-route/{fake}").status_code == 404
    assert server.get(f"/no-such-route/x.{jwt_like.split('.')[2]}").status_code == 404
    server.stop()                                               # flush and close the log

    hits = leakscan.scan(logs, table)
    kinds = sorted(h.kind for h in hits)
    assert kinds == ["access_token/signature", "api_key"], leakscan.report(hits)
    for h in hits:
        assert h.path in logs and h.line >= 1
        assert h.fingerprint == leakscan.fingerprint(fake if h.kind == "api_key" else jwt_like.split(".")[2])
    text = leakscan.report(hits)
    assert fake not in text and jwt_like.split(".")[2] not in text, "the report must not print secrets"
    assert "api_key" in text and str(hits[0].path) in text


def test_registry_learns_secrets_from_responses(server):
    """A login through the harness registers the password sent and the token received."""
    pw = server.admin_password
    r = server.parsable_call("login", {"email": server.admin_email, "password": pw})
    token = r["result"]["success"]["authToken"]
    registered = leakscan._secrets
    assert registered.get(pw) == "password"
    assert registered.get(token) == "session_token"
    assert registered.get(token.split(".")[2]) == "session_token/signature"
