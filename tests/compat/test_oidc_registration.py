"""Dynamic client registration (RFC 7591/7592) from a client nobody here wrote: npm `oauth4webapi`
3.8.9 (tests/federation/register.mjs) registers a native public client with
`dynamicClientRegistrationRequest`, signs a user in through headless Chromium on the real /login
and consent pages (code flow, PKCE S256, nonce; oauth4webapi validates the ID token), calls
userinfo, refreshes, then reads, updates and deletes its registration with its registration
access token. Open mode and initial-token mode (a token minted by `portcullis admin client
initial-token`).
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from harness import leakscan, paths
from harness.oidc_clients import USER_PASSWORD, add_user, start_provider

pytestmark = pytest.mark.federation
EMAIL = "ada@example.com"
SCRIPT = paths.FEDERATION_DIR / "register.mjs"


def run_client(spec: dict) -> dict:
    proc = subprocess.run([paths.node_binary() or "node", str(SCRIPT), json.dumps(spec)], cwd=paths.FEDERATION_DIR,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CHROMIUM_BIN": os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")})
    lines = proc.stdout.strip().splitlines()
    assert lines, f"register.mjs printed nothing (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    summary = json.loads(lines[-1])
    assert "failure" not in summary, f"{summary}\n{proc.stderr[-4000:]}"
    for kind, values in summary.pop("secrets", {}).items():
        for value in values if isinstance(values, list) else [values]:
            leakscan.register(kind, value)
    return summary


def check(s: dict, srv) -> None:
    issuer = srv.base_url
    assert s["registration_endpoint"] == issuer + "/oauth2/register"
    reg = s["registered"]
    client_id = reg["client_id"]
    assert reg["token_endpoint_auth_method"] == "none" and "client_secret" not in reg
    assert reg["registration_client_uri"] == f"{issuer}/oauth2/register/{client_id}"
    assert reg["redirect_uris"][0].startswith("http://127.0.0.1:")
    # A self-registered client is third-party: the consent page always shows.
    assert s["consent_shown"] and s["consent_names_client"]
    idc = s["id_token_claims"]
    assert idc["iss"] == issuer and idc["aud"] in (client_id, [client_id]) and idc["email"] == EMAIL
    assert set(s["scope"].split()) == {"openid", "profile", "email"}
    assert s["userinfo_email"] == EMAIL and s["refresh_rotated"]
    # RFC 7592.
    assert s["read"]["status"] == 200 and s["read"]["body"]["client_id"] == client_id
    assert s["update"]["status"] == 200 and s["update"]["body"]["client_name"] == "renamed by 7592"
    assert s["old_token_after_update"] == 401, "the update rotated the registration access token"
    assert s["delete_status"] == 204 and s["read_after_delete"] == 401
    assert s["refresh_after_delete"] == "invalid_client", "a deleted registration's client is disabled"


def test_oauth4webapi_registers_signs_in_and_manages_its_registration(server_factory):
    srv = start_provider(server_factory, '[core.oidc.registration]\nmode = "open"\n')
    add_user(srv, EMAIL)
    s = run_client({"issuer": srv.base_url, "email": EMAIL, "password": USER_PASSWORD})
    check(s, srv)
    assert srv.get("/oauth2/register").status_code == 405


def test_initial_token_mode_needs_a_token_minted_by_the_cli(server_factory):
    srv = start_provider(server_factory, '[core.oidc.registration]\nmode = "initial_token"\n')
    add_user(srv, EMAIL)
    r = srv.post("/oauth2/register", json={"redirect_uris": ["https://app.example/cb"]})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    minted = srv.admin("client", "initial-token", "--uses", "1", "--expires", "1h", "--label", "compat")
    assert minted["maxUses"] == 1 and minted["uses"] == 0 and minted["usable"] is True
    s = run_client({"issuer": srv.base_url, "email": EMAIL, "password": USER_PASSWORD,
                    "initial_access_token": minted["token"]})
    check(s, srv)
    listed = srv.admin("client", "initial-tokens")
    assert [(t["id"], t["uses"], t["usable"]) for t in listed] == [(minted["id"], 1, False)]
    assert "token" not in listed[0] and "tokenHash" not in listed[0]
    r = srv.post("/oauth2/register", json={"redirect_uris": ["https://app.example/cb"]},
                 headers={"Authorization": f"Bearer {minted['token']}"})
    assert r.status_code == 401, "used up"
    srv.admin("client", "revoke-initial-token", minted["id"])
    assert srv.admin("client", "initial-tokens")[0]["revokedAt"]


def test_registration_is_off_by_default(server_factory):
    srv = start_provider(server_factory, "")
    assert "registration_endpoint" not in srv.get("/.well-known/openid-configuration").json()
    r = srv.post("/oauth2/register", json={"redirect_uris": ["https://app.example/cb"]})
    assert r.status_code == 404
