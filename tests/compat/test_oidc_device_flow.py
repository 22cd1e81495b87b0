"""The OAuth 2.0 Device Authorization Grant (RFC 8628) with a client library nobody here wrote: npm
`oauth4webapi` (tests/federation/device.mjs) is the device, headless Debian Chromium the person who
types the code on the real /device page, signs in on /login and allows on the confirmation page.

The device polls while the person answers: `authorization_pending`, `slow_down` (its interval
grows by 5 s), then the tokens; oauth4webapi checks the ID token's claims and jose its signature
against the JWKS; the refresh token rotates; the device code presented again is refused and ends
the grant.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import leakscan, paths
from harness.oidc_clients import USER_PASSWORD, add_user, client_toml, start_provider

pytestmark = pytest.mark.federation
EMAIL = "ada@example.com"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
USER_CODE_LETTERS = set("BCDFGHJKLMNPQRSTVWXZ")


def run_device(spec: dict, workdir: Path, timeout: float = 180.0) -> dict:
    """Runs device.mjs with the spec; answers its summary (secrets registered for the log scan)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium`")
    for module in ("oauth4webapi", "jose", "playwright-core"):
        if not (paths.FEDERATION_DIR / "node_modules" / module).is_dir():
            pytest.fail(f"{paths.FEDERATION_DIR}/node_modules/{module} is missing: run `npm ci` there")
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([paths.node_binary() or "node", str(paths.FEDERATION_DIR / "device.mjs")],
                          cwd=paths.FEDERATION_DIR, input=json.dumps(spec) + "\n", capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "CHROMIUM_BIN": CHROMIUM})
    (workdir / "device.stderr.log").write_text(done.stderr)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"device.mjs exited {done.returncode}:\n{done.stderr[-4000:]}"
    summary = json.loads(lines[-1])
    for kind, values in summary.pop("secrets", {}).items():
        for value in values if isinstance(values, list) else [values]:
            leakscan.register(kind, value)
    assert "failure" not in summary, json.dumps(summary, indent=2)
    return summary


def test_oauth4webapi_device_flow_with_the_person_in_chromium(server_factory, tmp_path):
    toml = client_toml(client_id="tv.app", name="Living Room TV", kind="public",
                       grant_types=[DEVICE_GRANT, "refresh_token"], scopes=["openid", "profile", "email"])
    srv = start_provider(server_factory, toml)
    add_user(srv, EMAIL)
    s = run_device({"issuer": srv.base_url, "client_id": "tv.app", "scope": "openid profile email",
                    "email": EMAIL, "password": USER_PASSWORD}, tmp_path)
    issuer = srv.base_url

    assert s["discovery"]["device_authorization_endpoint"] == issuer + "/oauth2/device_authorization"
    assert DEVICE_GRANT in s["discovery"]["grant_types_supported"]
    da = s["device_authorization"]
    code = da["user_code"]
    assert len(code) == 9 and code[4] == "-" and set(code.replace("-", "")) <= USER_CODE_LETTERS
    assert da["verification_uri"] == issuer + "/device"
    assert da["verification_uri_complete"] == f"{issuer}/device?user_code={code}"
    assert (da["expires_in"], da["interval"]) == (600, 5)

    # Polling at once: pending, then slow_down; later polls at the grown interval until the tokens.
    assert s["early_polls"] == ["authorization_pending", "slow_down"]
    assert s["final_interval"] == 10 and s["polls"][-1] == "tokens" and "slow_down" not in s["polls"]

    b = s["browser"]
    assert b["entry_path"] == "/device" and b["sign_in_path"] == "/login"
    assert b["sign_in_returns_to"] == "/device/confirm"
    assert b["confirm"]["path"] == "/device/confirm"
    assert b["confirm"]["client"] == "Living Room TV" and b["confirm"]["user_code"] == code
    assert b["confirm"]["scopes"] == ["scope-openid", "scope-profile", "scope-email"]
    assert b["confirm"]["who"] == EMAIL
    assert b["done_path"] == "/device/done" and "connected" in b["done_text"]
    assert s["csp_errors"] == [], s["csp_errors"]

    idc = s["id_token_claims"]
    assert s["id_token_header"]["alg"] == "RS256" and s["id_token_verified_sub"] == idc["sub"]
    assert idc["iss"] == issuer and idc["aud"] in ("tv.app", ["tv.app"]) and idc["azp"] == "tv.app"
    assert idc["email"] == EMAIL and idc["name"] == "Ada Lovelace" and "nonce" not in idc
    assert idc["amr"] == ["pwd"] and idc["acr"] == "1" and idc["sid"]
    assert idc["exp"] > idc["iat"] >= idc["auth_time"]
    assert s["token_type"].lower() == "bearer" and set(s["scope"].split()) == {"openid", "profile", "email"}

    assert s["refresh_rotated"] is True
    assert s["replay"] == "invalid_grant" and s["refresh_after_replay"] == "invalid_grant"
