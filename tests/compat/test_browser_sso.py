"""Browser SSO end to end (docs/design/browser-sso.md): Parsable `startLogin` (generated Thrift stubs)
gives a relative `webSSO.url`; headless Debian Chromium, driven by npm `playwright-core`
(tests/federation/browser.mjs), follows it to a real node `oidc-provider` (interactive login), back to
Portcullis' callback, and lands on the page that shows the new session token. The token is then used
with the real clients. Also the password login page, in the same browser.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from nominal_api import authentication_api as authn

from harness import paths, procs
from harness.clients import ThriftClient, bearer
from harness.server import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; style-src 'self'; img-src 'self'"
UPSTREAM_PASSWORD = "upstream password 7"


def browser(spec: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium`")
    if not (paths.FEDERATION_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"{paths.FEDERATION_DIR}/node_modules/playwright-core is missing: run `npm ci` there")
    p = subprocess.run([paths.node_binary() or "node", str(paths.FEDERATION_DIR / "browser.mjs"), json.dumps(spec)],
                       cwd=paths.FEDERATION_DIR, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "CHROMIUM_BIN": CHROMIUM})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "failure" not in out, out["failure"]
    return out


def make_sso(server_factory, oidc_provider_factory, tmp_path, *, id_token_ttl=3600, provider_extra=""):
    """A provider serving example.com with browser SSO, and a server whose public URL is known before
    it starts (the provider must register the callback as a redirect URI)."""
    port = procs.free_port()
    base = f"http://127.0.0.1:{port}"
    prov = oidc_provider_factory(id_token_ttl=id_token_ttl,
                                 extra_args=("--web-redirect-uri", base + "/login/sso/callback"))
    secret = tmp_path / "client-secret"
    secret.write_text(prov.client_secret + "\n")
    config = (
        "[core.rate_limit]\nper_ip_per_sec = 1000\nburst = 1000\n\n"
        "[[federation.providers]]\n"
        f'alias = "corp"\nissuer = "{prov.issuer}"\nclient_ids = ["{prov.client_id}"]\n'
        'email_domains = ["example.com"]\njit_provisioning = true\n'
        'jit_orgs = [{ org = "alpha", roles = ["AUTHOR"] }]\n'
        + provider_extra +
        "[federation.providers.browser_sso]\n"
        f'client_secret_file = "{secret}"\n')
    srv = server_factory(config=config, start=False)
    srv.port = port
    srv.env["PORTCULLIS_PUBLIC_URL"] = base
    srv.start()
    srv.cli("org", "create", "alpha")
    srv.cli("allowlist", "add", "domain", "example.com")
    prov.upsert_account("ada-sub", email="ada@example.com", name="Ada", password=UPSTREAM_PASSWORD)
    return srv, prov


@pytest.fixture
def sso(server_factory, oidc_provider_factory, tmp_path):
    return make_sso(server_factory, oidc_provider_factory, tmp_path)


def start_login(srv, thrift_stubs, email: str):
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact") as c:
        return c.startLogin(email)


def test_browser_sso_end_to_end(sso, thrift_stubs):
    srv, prov = sso
    vt = start_login(srv, thrift_stubs, "ada@example.com")
    assert vt.isSSO and vt.isIdpAuth and vt.passwordAuth is None
    assert vt.webSSO.url.startswith("/login/sso/start?t="), vt.webSSO.url
    # Each answer carries its own single-use token.
    assert start_login(srv, thrift_stubs, "ada@example.com").webSSO.url != vt.webSSO.url
    # No upstream SSO for other domains: password login, or Portcullis's own browser sign-in.
    other = start_login(srv, thrift_stubs, "bob@elsewhere.org")
    assert not other.isSSO and other.passwordAuth is not None and not other.isIdpAuth
    assert other.webSSO.url.startswith("/login?t="), other.webSSO.url

    out = browser({"mode": "sso", "start_url": srv.base_url + vt.webSSO.url, "login": "ada-sub",
                   "password": UPSTREAM_PASSWORD, "replay": True})
    assert out["error"] is None, out
    assert out["final_url"].startswith(srv.base_url + "/login/sso/callback?"), out
    token = out["token"]
    assert token, out
    # The session token is only in the page: no script-readable cookie or storage.
    assert out["js_cookies"] == "" and out["local_storage"] == 0, out
    # The start link was single use.
    assert "invalid, already used or expired" in (out["replay_error"] or ""), out

    # The token is a Portcullis session for the JIT-provisioned user, on both APIs.
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", token=token) as c:
        me = c.getCurrentUser()
    assert me.email == "ada@example.com"
    profile = srv.nominal(authn.AuthenticationServiceV2).get_my_profile(bearer(token))
    assert profile.email == "ada@example.com"


def test_browser_sso_session_ends_with_the_upstream_token(server_factory, oidc_provider_factory, tmp_path,
                                                         thrift_stubs):
    """A 300 s upstream ID token and max_session_beyond_upstream_secs = 60: the session the callback
    hands out ends 60 s after the ID token, not after the usual 30 days."""
    srv, _ = make_sso(server_factory, oidc_provider_factory, tmp_path, id_token_ttl=300,
                      provider_extra="max_session_beyond_upstream_secs = 60\n")
    vt = start_login(srv, thrift_stubs, "ada@example.com")
    before = int(time.time())
    out = browser({"mode": "sso", "start_url": srv.base_url + vt.webSSO.url, "login": "ada-sub",
                   "password": UPSTREAM_PASSWORD})
    after = int(time.time())
    token = out["token"]
    assert token, out
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    # The ID token was issued during the flow: exp = iat + 300; the session ends 60 s later.
    assert before + 360 - 1 <= payload["exp"] <= after + 360 + 1, (before, payload["exp"], after)
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", token=token) as c:
        assert c.getCurrentUser().email == "ada@example.com"


def test_browser_sso_wrong_upstream_password_stays_at_provider(sso, thrift_stubs):
    srv, _ = sso
    vt = start_login(srv, thrift_stubs, "ada@example.com")
    out = browser({"mode": "sso", "start_url": srv.base_url + vt.webSSO.url, "login": "ada-sub",
                   "password": "wrong"})
    assert out["token"] is None and out["provider_error"] == "Wrong login or password", out


def test_sso_start_redirect_cookie_and_headers(sso, thrift_stubs):
    srv, prov = sso
    vt = start_login(srv, thrift_stubs, "ada@example.com")
    r = srv.get(vt.webSSO.url, allow_redirects=False)
    assert r.status_code == 303
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "same-origin"
    loc = urlparse(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == prov.discovery()["authorization_endpoint"]
    q = {k: v[0] for k, v in parse_qs(loc.query).items()}
    assert q["response_type"] == "code" and q["client_id"] == prov.client_id
    assert q["redirect_uri"] == srv.base_url + "/login/sso/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) == 43 and len(q["nonce"]) == 43 and q["state"] != q["nonce"]
    assert "openid" in q["scope"].split() and q["login_hint"] == "ada@example.com"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("portcullis-sso=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie          # http public URL; https gets Secure and __Host-
    # Replayed start token, and a callback without the browser's cookie: refused pages.
    again = srv.get(vt.webSSO.url, allow_redirects=False)
    assert again.status_code == 400 and again.headers["Content-Security-Policy"] == CSP
    cb = srv.get("/login/sso/callback", params={"state": q["state"], "code": "x"})
    assert cb.status_code == 400 and "invalid, already used or expired" in cb.text


def test_password_login_page_in_browser(server_factory, thrift_stubs):
    srv = server_factory(config="[core.rate_limit]\nper_ip_per_sec = 1000\nburst = 1000\n")
    page = srv.get("/login")
    assert page.status_code == 200 and page.headers["Content-Security-Policy"] == CSP
    assert page.headers["Cache-Control"] == "no-store" and "<script" not in page.text
    assert "HttpOnly" in page.headers["Set-Cookie"] and "SameSite=Lax" in page.headers["Set-Cookie"]
    # Without the CSRF cookie the form is refused before any password check.
    forged = srv.post("/login", data={"email": DEFAULT_ADMIN_EMAIL, "password": DEFAULT_ADMIN_PASSWORD,
                                      "csrf": "x"})
    assert forged.status_code == 403 and "session-token" not in forged.text

    ok = browser({"mode": "password", "login_url": srv.base_url + "/login", "email": DEFAULT_ADMIN_EMAIL,
                  "password": DEFAULT_ADMIN_PASSWORD})
    assert ok["token"] and ok["js_cookies"] == "" and ok["local_storage"] == 0, ok
    with ThriftClient(thrift_stubs, srv.auth_url, token=ok["token"]) as c:
        assert c.getCurrentUser().email == DEFAULT_ADMIN_EMAIL
    # Wrong password and unknown address: one answer.
    bad = browser({"mode": "password", "login_url": srv.base_url + "/login", "email": DEFAULT_ADMIN_EMAIL,
                   "password": "not the password"})
    unknown = browser({"mode": "password", "login_url": srv.base_url + "/login",
                       "email": "nobody@portcullis.test", "password": "not the password"})
    assert bad["token"] is None and bad["error"] == "Invalid email or password."
    assert unknown["error"] == bad["error"]
