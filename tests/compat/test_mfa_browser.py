"""A Parsable client whose user has a second factor (docs/design/mfa.md, "Browser sign-in"), against
the running binary with the generated Thrift stubs: `login` refuses after the right password (412
`second-factor-required`, "use web sign-in"); `startLogin` hands out `webSSO.url`, a single-use start
token of Portcullis's own browser sign-in; the browser part is driven over HTTP with a `requests`
session posting the pages' forms (TOTP codes from PyPI `pyotp`); the landing page hands back the
session token exactly as the upstream SSO hand-off does, and the token works with Parsable calls.
"""
from __future__ import annotations

import html
import json
import os
import re
import select
import subprocess
import time
from pathlib import Path

import pyotp
import pytest
import requests

from harness import paths
from harness.clients import ThriftClient

PW = "Compat-tests password 1234"
EMAIL = "tess@example.com"
CONFIG = "[core.rate_limit]\nper_ip_per_sec = 1000\nburst = 1000\n"


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no {name} field in {page}"
    return html.unescape(m.group(1))


def session_token(page: str) -> str | None:
    m = re.search(r'<textarea id="session-token"[^>]*>([^<]*)</textarea>', page)
    return html.unescape(m.group(1)) if m else None


def settled() -> float:
    """Now, out of the last seconds of a 30 s step (a code stays valid for the request after)."""
    while time.time() % 30 >= 24:
        time.sleep(0.5)
    return time.time()


@pytest.fixture
def tess(server_factory):
    srv = server_factory(config=CONFIG)
    srv.admin.create_org("acme")
    srv.admin.create_user(EMAIL, name="Tess", password=PW)
    srv.admin.add_member("acme", EMAIL, "AUTHOR")
    # TOTP enrolment over the account API, on a fresh password session.
    login = srv.parsable_call("login", {"email": EMAIL, "password": PW})
    token = login["result"]["success"]["authToken"]
    auth = {"Authorization": f"Bearer {token}"}
    r = srv.post("/account/v1/factors/totp", json={"name": "phone"}, headers=auth)
    assert r.status_code == 201, r.text
    totp = pyotp.parse_uri(r.json()["otpauthUri"])
    t = settled()
    r = srv.post(f"/account/v1/factors/totp/{r.json()['factorId']}/confirm",
                 json={"code": totp.at(t - 30)}, headers=auth)
    assert r.status_code == 200, r.text
    return srv, totp, r.json()["recoveryCodes"]


def test_a_parsable_client_signs_in_through_the_own_browser_sign_in(tess, thrift_stubs):
    srv, totp, _ = tess
    SystemException = thrift_stubs.common.ttypes.SystemException
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact") as c:
        # The password alone no longer signs in: the refusal says where to go.
        with pytest.raises(SystemException) as ei:
            c.login(EMAIL, PW, at.LoginOptions())
        assert ei.value.errorCode == 412, ei.value
        assert "web sign-in" in ei.value.message
        vt = c.startLogin(EMAIL)
    assert vt.passwordAuth is not None and not vt.isSSO
    url = vt.webSSO.url
    assert url.startswith("/login?t="), url

    b = requests.Session()
    page = b.get(srv.base_url + url)
    assert page.status_code == 200, page.text
    assert 'value="tess@example.com"' in page.text
    assert "<script" not in page.text
    step = b.post(srv.base_url + "/login",
                  data={"csrf": hidden(page.text, "csrf"), "email": EMAIL, "password": PW})
    assert step.status_code == 200, step.text
    assert 'autocomplete="one-time-code"' in step.text and session_token(step.text) is None
    challenge = b.cookies.get("portcullis-mfa")
    assert challenge and challenge not in step.text
    # A wrong code: the same page, the error by the field.
    wrong = b.post(srv.base_url + "/login/second-factor",
                   data={"csrf": hidden(step.text, "csrf"), "code": "000000"})
    assert wrong.status_code == 401 and 'id="code-error"' in wrong.text
    # The lockout's first delay (1 s by default): a code at once is throttled, on the same page.
    fast = b.post(srv.base_url + "/login/second-factor",
                  data={"csrf": hidden(wrong.text, "csrf"), "code": totp.now()})
    assert fast.status_code == 429 and fast.headers["Retry-After"] and session_token(fast.text) is None
    time.sleep(1.2)
    settled()
    done = b.post(srv.base_url + "/login/second-factor",
                  data={"csrf": hidden(fast.text, "csrf"), "code": totp.now()})
    assert done.status_code == 200, done.text
    token = session_token(done.text)
    assert token
    assert "portcullis-mfa" not in b.cookies and "portcullis-session" not in b.cookies

    # The token is a Parsable session of Tess.
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", token=token) as c:
        assert c.getCurrentUser().email == EMAIL
    # The start link was single use.
    again = requests.get(srv.base_url + url)
    assert again.status_code == 400 and "invalid, already used or expired" in again.text


def test_a_recovery_code_in_the_browser_once(tess, thrift_stubs):
    srv, _, codes = tess
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact") as c:
        url = c.startLogin(EMAIL).webSSO.url

    def sign_in(start: str) -> requests.Response:
        b = requests.Session()
        page = b.get(srv.base_url + start)
        step = b.post(srv.base_url + "/login",
                      data={"csrf": hidden(page.text, "csrf"), "email": EMAIL, "password": PW})
        assert 'id="use-recovery-code"' in step.text
        return b.post(srv.base_url + "/login/second-factor",
                      data={"csrf": hidden(step.text, "csrf"), "recovery_code": codes[0]})

    ok = sign_in(url)
    token = session_token(ok.text)
    assert token, ok.text
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", token=token) as c:
        assert c.getCurrentUser().email == EMAIL
    spent = sign_in("/login")
    assert spent.status_code == 401 and session_token(spent.text) is None
    assert 'id="recovery_code-error"' in spent.text


def test_enrolment_required_in_chromium(server_factory, thrift_stubs):
    """Policy `required`, no factor yet: headless Chromium (tests/federation/browser.mjs, mode
    `enrol`) signs in, sees the inline SVG QR code rendered under the page's CSP, types the code
    (pyotp, from the page's setup URI), sees the 10 recovery codes once and continues to the landing
    page; the token works with Parsable."""
    chromium = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.fail(f"{chromium} is missing: install the Debian package `chromium`")
    srv = server_factory(config=CONFIG)
    srv.admin.create_org("acme")
    srv.admin.create_user(EMAIL, name="Tess", password=PW)
    srv.admin.add_member("acme", EMAIL, "AUTHOR")
    srv.cli("org", "update", "acme", "--mfa", "required")
    refused = srv.parsable_call("login", {"email": EMAIL, "password": PW})["result"]["err"]
    assert refused["errorCode"] == 412 and refused["slug"] == "mfa-enrolment-required", refused

    spec = {"mode": "enrol", "login_url": srv.base_url + "/login", "email": EMAIL, "password": PW}
    p = subprocess.Popen([paths.node_binary() or "node", str(paths.FEDERATION_DIR / "browser.mjs"), json.dumps(spec)],
                         cwd=paths.FEDERATION_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "CHROMIUM_BIN": chromium})
    try:
        ready, _, _ = select.select([p.stdout], [], [], 90)
        assert ready, "browser.mjs showed no enrolment page within 90 s"
        setup = json.loads(p.stdout.readline())
        assert setup.get("event") == "setup", setup
        assert setup["qr"] and setup["qr"]["width"] >= 100 and setup["qr"]["height"] >= 100, setup
        totp = pyotp.parse_uri(setup["uri"])
        settled()
        p.stdin.write(totp.now() + "\n")
        p.stdin.flush()
        out = json.loads(p.communicate(timeout=90)[0].strip().splitlines()[-1])
    finally:
        if p.poll() is None:
            p.kill()
    assert "failure" not in out, out["failure"]
    assert len(out["recovery_codes"]) == 10 and len(set(out["recovery_codes"])) == 10, out
    assert out["token"] and out["js_cookies"] == "" and out["local_storage"] == 0, out
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", token=out["token"]) as c:
        assert c.getCurrentUser().email == EMAIL
