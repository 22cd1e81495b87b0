"""Passkeys in a real browser (docs/design/mfa.md, "Passkeys in the browser"): headless Debian
Chromium driven by npm `playwright-core` (tests/federation/passkeys.mjs) with the Chrome DevTools
Protocol's virtual authenticator (CTAP2, internal transport, resident keys, user verification),
through the real pages of the binary and their own script (/assets/webauthn.js) under their CSP:
a passkey added on /account/security, a passwordless sign-in with it on /login, and the second step
after the password. The sessions' `amr` is read back through the account API.

WebAuthn needs a secure context, and a relying party id cannot be an IP address: the server's public
URL (and the browser's address) is http://localhost:PORT here.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from harness import paths
from harness.oidc_clients import RATE_LIMIT_TOML, USER_PASSWORD

pytestmark = pytest.mark.federation
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
EMAIL = "ada@example.com"


def drive(spec: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium`", pytrace=False)
    if not (paths.FEDERATION_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"{paths.FEDERATION_DIR}/node_modules/playwright-core is missing: run `npm ci` there",
                    pytrace=False)
    done = subprocess.run([paths.node_binary() or "node", str(paths.FEDERATION_DIR / "passkeys.mjs"), json.dumps(spec)],
                          cwd=paths.FEDERATION_DIR, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "CHROMIUM_BIN": CHROMIUM})
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def current_amr(base: str, token: str) -> list[str]:
    r = requests.get(base + "/account/v1/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    current = [s for s in r.json()["sessions"] if s["current"]]
    assert len(current) == 1, r.json()
    return current[0]["authMethods"]


def test_register_a_passkey_then_sign_in_with_it(server_factory):
    srv = server_factory(config=RATE_LIMIT_TOML, start=False)
    local = f"http://localhost:{srv.port}"
    srv.env["PORTCULLIS_PUBLIC_URL"] = local
    srv.start()
    srv.admin.create_org("acme")
    srv.admin.create_user(EMAIL, name="Ada Lovelace", password=USER_PASSWORD)
    srv.admin.add_member("acme", EMAIL, "AUTHOR")

    # The script the pages load: served by the binary, JavaScript, nothing else on the page.
    login = requests.get(local + "/login", timeout=10)
    csp = login.headers["Content-Security-Policy"]
    assert csp.endswith("; script-src 'self'; connect-src 'self'"), csp
    assert "'unsafe-inline'" not in csp and "default-src 'none'" in csp
    src = login.text.split('<script src="', 1)[1].split('"', 1)[0]
    assert src.startswith("/assets/webauthn.js?v="), src
    script = requests.get(local + src, timeout=10)
    assert script.status_code == 200 and script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "navigator.credentials.create" in script.text
    # Other pages keep the strict CSP without script.
    assert "script-src" not in requests.get(local + "/login/sso/start?t=x", timeout=10).headers["Content-Security-Policy"]

    out = drive({"base": local, "email": EMAIL, "password": USER_PASSWORD})
    assert out.get("failure") is None, out["failure"]
    assert out["csp_errors"] == [] and out["script_errors"] == [], out
    # The passkey: a discoverable credential for the relying party "localhost", named on the page.
    assert [(c["resident"], c["rp"]) for c in out["credentials"]] == [(True, "localhost")], out
    assert out["factors"] == ["Laptop"], out
    assert len(out["recovery_codes"]) == 10 and len(set(out["recovery_codes"])) == 10, out

    # Passwordless: possession plus the authenticator's user verification, two factors.
    assert out["passwordless_token"], out
    assert current_amr(local, out["passwordless_token"]) == ["swk", "mfa"]

    # Password, then the passkey as the second step (no authenticator app: no code field).
    assert out["second_step_page"]["has_code_field"] is False, out
    assert out["second_step_token"], out
    assert current_amr(local, out["second_step_token"]) == ["pwd", "swk", "mfa"]
    # The authenticator's counter moved with each of the two uses, and the server accepted each.
    assert out["sign_count"] >= out["credentials"][0]["sign_count"] + 2, out
