"""Second factors against the running binary (docs/design/mfa.md): TOTP enrolment over the account
API with the codes computed by PyPI `pyotp` from the `otpauth://` URI Portcullis hands out, the JSON
sign-in's second step, a replayed code refused, a recovery code accepted once, the recent
authentication a removal needs, a Nominal API key that needs the second factor, and a Parsable
password login refused (err 412, "use web sign-in") through the real generated Thrift stubs.
"""
from __future__ import annotations

import time

import pyotp
import pytest
import requests

from harness import leakscan
from harness.clients import ThriftClient

PW = "Compat-tests password 1234"
EMAIL = "mfa@example.com"
PROBLEM = "application/problem+json"


def settled() -> float:
    """Now, out of the last seconds of a 30 s step, so a code computed now is checked in its step."""
    while time.time() % 30 > 24:
        time.sleep(0.5)
    return time.time()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == PROBLEM
    body = r.json()
    assert body["code"] == code, body
    return body


@pytest.fixture
def mfa_server(server):
    if server.get("/account/v1/factors").status_code == 404:
        pytest.skip("the account router with factors is not mounted in the binary yet")
    server.admin.create_org("acme")
    server.admin.create_user(EMAIL, name="Mfa", password=PW)
    server.admin.add_member("acme", EMAIL, "AUTHOR")
    return server


def sign_in(server) -> dict:
    r = server.post("/account/v1/sign-in", json={"email": EMAIL, "password": PW})
    assert r.status_code == 200, r.text
    return r.json()


def second_step(server, challenge: str, **proof) -> requests.Response:
    return server.post("/account/v1/sign-in/second-factor", json={"challenge": challenge, **proof})


def test_totp_with_pyotp_and_the_parsable_refusal(mfa_server, thrift_stubs):
    s = mfa_server
    first = sign_in(s)
    assert first["status"] == "signed_in", first
    token = first["token"]

    # Enrol: the URI is a standard otpauth URI that pyotp reads; the QR code is a plain SVG.
    r = s.post("/account/v1/factors/totp", json={"name": "pyotp"}, headers=bearer(token))
    assert r.status_code == 201, r.text
    enrolment = r.json()
    totp = pyotp.parse_uri(enrolment["otpauthUri"])
    leakscan.register("totp-secret", totp.secret)
    leakscan.register("totp-uri", enrolment["otpauthUri"])
    assert isinstance(totp, pyotp.TOTP)
    assert (totp.issuer, totp.name, totp.digits, totp.interval) == ("Portcullis", EMAIL, 6, 30)
    svg = enrolment["qrSvg"]
    assert "<svg" in svg and "<script" not in svg.lower()
    now = settled()
    confirm = f"/account/v1/factors/totp/{enrolment['factorId']}/confirm"
    r = s.post(confirm, json={"code": totp.at(now - 30)}, headers=bearer(token))
    assert r.status_code == 200, r.text
    recovery = r.json()["recoveryCodes"]
    for c in recovery:
        leakscan.register("recovery-code", c)
    assert len(recovery) == 10 and len(set(recovery)) == 10

    # Parsable: the right password is refused with a clear error that points to web sign-in.
    at = thrift_stubs.authentication.ttypes
    SystemException = thrift_stubs.common.ttypes.SystemException
    with ThriftClient(thrift_stubs, s.auth_url, protocol="compact") as c:
        with pytest.raises(SystemException) as ei:
            c.login(EMAIL, PW, at.LoginOptions())
        assert ei.value.errorCode == 412, ei.value
        assert ei.value.slug == "second-factor-required"
        assert "web sign-in" in ei.value.message
        with pytest.raises(SystemException) as ei:
            c.loginWithTeamSelect(EMAIL, PW, at.LoginOptions())
        assert ei.value.errorCode == 412
    # Two right passwords, no failure counted: the JSON sign-in stops at the second factor.
    step = sign_in(s)
    assert step["status"] == "second_factor", step
    assert step["methods"] == ["totp"] and step["recoveryCodes"] is True
    assert "token" not in step
    code = totp.now()
    r = second_step(s, step["challenge"], totpCode=code)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "signed_in" and done["authMethods"] == ["pwd", "otp", "mfa"]
    mfa_token = done["token"]

    # The same code again, inside its window: refused (and the challenge stays for a retry).
    step = sign_in(s)
    assert_problem(second_step(s, step["challenge"], totpCode=code), 401, "invalid_code")
    time.sleep(1.2)          # the lockout's first delay after a failure
    r = second_step(s, step["challenge"], recoveryCode=recovery[0])
    assert r.status_code == 200, r.text
    assert r.json()["authMethods"] == ["pwd", "mfa"]
    step = sign_in(s)
    assert_problem(second_step(s, step["challenge"], recoveryCode=recovery[0]), 401, "invalid_code")
    time.sleep(1.2)

    # Credentials need the second factor: the password-only session is refused, the other works.
    key = {"apiKeyName": "compat laptop", "expiresAfterDays": 1}
    r = s.post("/api/authorization/v1/api-key", json=key, headers=bearer(token))
    assert r.status_code == 403, r.text
    r = s.post("/api/authorization/v1/api-key", json=key, headers=bearer(mfa_token))
    assert r.status_code == 200, r.text
    leakscan.register("api-key", r.json().get("apiKeyValue"))

    # Removing the factor needs a fresh factor check on the session.
    factors = s.get("/account/v1/factors", headers=bearer(token)).json()
    assert factors["signIn"] == "second_factor" and factors["recoveryCodesLeft"] == 9
    fid = factors["factors"][0]["id"]
    remove = lambda: requests.delete(f"{s.base_url}/account/v1/factors/{fid}", headers=bearer(token), timeout=30)
    assert_problem(remove(), 403, "reauthentication_required")
    r = s.post("/account/v1/reauthenticate", json={"totpCode": totp.at(time.time() + 30)}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert remove().status_code == 204
    # Back to a plain password login on Parsable.
    with ThriftClient(thrift_stubs, s.auth_url, protocol="compact") as c:
        assert c.login(EMAIL, PW, at.LoginOptions()).authToken


def test_an_org_requiring_mfa_refuses_password_logins_until_enrolment(mfa_server, thrift_stubs):
    s = mfa_server
    out = s.admin("org", "update", "acme", "--mfa", "required")
    assert out["mfa_policy"]["mode"] == "required"
    step = sign_in(s)
    assert step["status"] == "enrolment_required" and "totp" in step["methods"], step
    at = thrift_stubs.authentication.ttypes
    SystemException = thrift_stubs.common.ttypes.SystemException
    with ThriftClient(thrift_stubs, s.auth_url, protocol="compact") as c:
        with pytest.raises(SystemException) as ei:
            c.login(EMAIL, PW, at.LoginOptions())
        assert ei.value.errorCode == 412 and ei.value.slug == "mfa-enrolment-required"
    listed = s.admin("user", "mfa", "list", EMAIL)
    assert listed["sign_in"] == "enrolment_required"
