"""The self-service account API (/account/v1) and the well-known documents against the running
binary, with plain `requests` and PyJWT: a resource server verifies a Parsable login token with the
published JWKS, and a user lists and ends sessions and changes the password over HTTP.
"""
from __future__ import annotations

import time

import jwt
import pytest
import requests

PW = "Compat-tests password 1234"
NEW_PW = "Another compat password 5678"
EMAIL = "ann@example.com"
PROBLEM = "application/problem+json"


@pytest.fixture
def ann(server):
    r = server.get("/.well-known/jwks.json")
    if r.status_code == 404:
        pytest.skip("the well-known and account routers are not mounted in the binary yet")
    server.admin.create_org("acme")
    server.admin.create_user(EMAIL, name="Ann", password=PW)
    server.admin.add_member("acme", EMAIL, "AUTHOR")
    return server


def login(server, password=PW):
    """A Parsable JSON login: the token, or the error object."""
    reply = server.parsable_call("login", {"email": EMAIL, "password": password})
    result = reply.get("result", {})
    return result.get("success", {}).get("authToken"), result.get("err")


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def sessions(server, token):
    r = server.get("/account/v1/sessions", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()["sessions"]


def assert_problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["requestId"] == r.headers["x-request-id"]
    return body


def test_a_parsable_token_verifies_with_the_published_jwks(ann):
    token, err = login(ann)
    assert token, err
    meta = ann.get("/.well-known/portcullis")
    assert meta.status_code == 200
    meta = meta.json()
    assert meta["token_signing_alg_values_supported"] == ["EdDSA"]
    assert meta["jwks_uri"].endswith("/.well-known/jwks.json")

    r = ann.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/jwk-set+json"
    assert r.headers["Cache-Control"].startswith("public, max-age=")
    keys = jwt.PyJWKSet.from_dict(r.json())
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience=meta["audience"],
                        issuer=meta["issuer"])
    assert claims["amr"] == ["pwd"]
    # A flipped signature byte does not verify.
    head, payload, sig = token.split(".")
    forged = ".".join([head, payload, ("A" if sig[0] != "A" else "B") + sig[1:]])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key.key, algorithms=["EdDSA"], audience=meta["audience"],
                   issuer=meta["issuer"])


def test_sessions_and_password_change_over_http(ann):
    mine, err = login(ann)
    assert mine, err
    other, err = login(ann)
    assert other, err

    listed = sessions(ann, mine)
    assert len(listed) == 2
    assert [s["current"] for s in listed].count(True) == 1
    theirs = next(s for s in listed if not s["current"])
    assert theirs["authMethods"] == ["pwd"]

    r = requests.delete(f"{ann.base_url}/account/v1/sessions/{theirs['id']}", headers=bearer(mine),
                        timeout=30)
    assert r.status_code == 204, r.text
    r = ann.get("/account/v1/sessions", headers=bearer(other))
    assert_problem(r, 401, "invalid_token")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(sessions(ann, mine)) == 1

    url = "/account/v1/password"
    r = ann.post(url, headers=bearer(mine), json={"currentPassword": "not it at all", "newPassword": NEW_PW})
    assert_problem(r, 401, "invalid_credentials")
    # The login throttle's delay applies to the change as well.
    r = ann.post(url, headers=bearer(mine), json={"currentPassword": PW, "newPassword": NEW_PW})
    assert_problem(r, 429, "rate_limited")
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    r = ann.post(url, headers=bearer(mine), json={"currentPassword": PW, "newPassword": "short"})
    assert "at least" in assert_problem(r, 400, "invalid_argument")["detail"]
    r = ann.post(url, headers=bearer(mine), json={"currentPassword": PW, "newPassword": NEW_PW})
    assert r.status_code == 204, r.text

    token, err = login(ann)
    assert token is None and err["errorCode"] == 401, err
    time.sleep(1.2)  # that failure delays the next attempt by 1 s
    token, err = login(ann, NEW_PW)
    assert token, err


def test_forced_reset_needs_the_admins_one_time_code(ann):
    reset = ann.cli("user", "force-password-reset", EMAIL)
    code = reset["reset_code"]
    assert reset["password_reset_required"] is True and len(code) >= 20
    token, err = login(ann)
    assert token is None, "a flagged account cannot log in"
    url = "/account/v1/password/reset-required"
    unknown = ann.post(url, json={"email": "nobody@example.com", "resetCode": code, "newPassword": NEW_PW})
    body = assert_problem(unknown, 401, "invalid_credentials")
    time.sleep(1.2)  # the failed login above delays the next attempt on this account
    # Knowing the old password is not enough to complete someone else's reset.
    old = ann.post(url, json={"email": EMAIL, "resetCode": PW, "newPassword": NEW_PW})
    other = assert_problem(old, 401, "invalid_credentials")
    assert {k: v for k, v in body.items() if k != "requestId"} == \
        {k: v for k, v in other.items() if k != "requestId"}
    legacy = ann.post(url, json={"email": EMAIL, "currentPassword": PW, "newPassword": NEW_PW})
    assert_problem(legacy, 400, "invalid_request")
    time.sleep(3.2)  # a second failure: 3 s
    r = ann.post(url, json={"email": EMAIL, "resetCode": code, "newPassword": NEW_PW})
    assert r.status_code == 204, r.text
    token, err = login(ann, NEW_PW)
    assert token, err
    # Single use.
    r = ann.post(url, json={"email": EMAIL, "resetCode": code, "newPassword": "Yet another password 9012"})
    assert_problem(r, 401, "invalid_credentials")


def test_a_revoked_signing_key_stops_verifying_within_a_second(ann):
    token, err = login(ann)
    assert token, err
    kid = jwt.get_unverified_header(token)["kid"]
    assert len(sessions(ann, token)) == 1
    revoked = ann.cli("keys", "revoke", kid)
    assert revoked["kid"] == kid and revoked["signing_kid"] != kid
    deadline = time.monotonic() + 1.0
    while True:
        r = ann.get("/account/v1/sessions", headers=bearer(token))
        if r.status_code == 401:
            assert_problem(r, 401, "invalid_token")
            break
        assert time.monotonic() < deadline, "the revoked key still verifies after 1 s"
        time.sleep(0.05)
    published = [k["kid"] for k in ann.get("/.well-known/jwks.json").json()["keys"]]
    assert kid not in published
    # The server signs with the new key (picked up from the same feed) and it verifies.
    deadline = time.monotonic() + 2.0
    while True:
        fresh, err = login(ann)
        assert fresh, err
        if jwt.get_unverified_header(fresh)["kid"] != kid:
            break
        assert time.monotonic() < deadline, "still signing with a revoked key"
        time.sleep(0.1)
    assert len(sessions(ann, fresh)) >= 1


def test_sessions_show_last_use_and_idle_deadline(server_factory):
    srv = server_factory(config="[core.tokens]\nidle_timeout_secs = 600\n")
    if srv.get("/.well-known/jwks.json").status_code == 404:
        pytest.skip("the account router is not mounted in the binary yet")
    srv.admin.create_org("acme")
    srv.admin.create_user(EMAIL, name="Ann", password=PW)
    srv.admin.add_member("acme", EMAIL, "AUTHOR")
    token, err = login(srv)
    assert token, err
    (s,) = sessions(srv, token)
    from datetime import datetime
    last = datetime.fromisoformat(s["lastSeen"].replace("Z", "+00:00"))
    idle = datetime.fromisoformat(s["idleExpiresAt"].replace("Z", "+00:00"))
    assert (idle - last).total_seconds() == 600
