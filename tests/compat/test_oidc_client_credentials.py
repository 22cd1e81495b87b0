"""The client credentials grant (docs/design/oidc-provider.md, "Client credentials") for clients
nobody here wrote: PyPI `authlib` authenticating with `private_key_jwt`, and npm `oauth4webapi`
(tests/federation/client_credentials.mjs) with `client_secret_basic`. Each gets an access token as
its client's service account, checks it as a resource server would (the JWT against the JWKS,
introspection with the account's roles), and sees it stop when the client is disabled or the
token revoked.
"""
from __future__ import annotations

import json
import subprocess
import time

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from harness import leakscan, paths
from harness.oidc_clients import start_provider

ORG = "acme"
RS_REDIRECT = "https://api.example.test/cb"


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """authlib's assertion with a 60 s lifetime (Portcullis takes at most 300 s; authlib's
    default is 3600 s), signed ES256 with the client's P-256 key."""

    alg = "ES256"

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(ECKey.import_key(auth.client_secret), client_id=auth.client_id,
                                    token_endpoint=token_endpoint, header=self.headers, alg=self.alg,
                                    expires_in=60)


def provider(server_factory):
    """A server with the org, a resource server's client (may introspect any token) and the
    discovery document."""
    srv = start_provider(server_factory, "")
    srv.admin.create_org(ORG)
    rs = srv.admin.create_client("confidential", "Jobs API", client_id="jobs-api", redirect_uri=[RS_REDIRECT],
                                 introspect_any=True)
    meta = requests.get(srv.base_url + "/.well-known/openid-configuration", timeout=10).json()
    assert "client_credentials" in meta["grant_types_supported"]
    return srv, meta, rs["clientSecret"]


def service_client(srv, client_id: str, **options) -> dict:
    """A client-credentials client of the org, with the EXECUTOR role; answers `client show`."""
    created = srv.admin.create_client("confidential", f"service {client_id}", client_id=client_id, org=ORG,
                                      grant_type=["client_credentials"], scope=["openid", "profile", "orgs"],
                                      **options)
    assert created["grantTypes"] == ["client_credentials"] and created["orgId"]
    assert created["serviceAccount"]["roles"] == []
    srv.admin("client", "roles", client_id, "--role", "EXECUTOR")
    shown = srv.admin("client", "show", client_id)
    assert shown["serviceAccount"]["roles"] == ["EXECUTOR"]
    return {**shown, "clientSecret": created.get("clientSecret")}


def introspect(meta: dict, rs_secret: str, token: str) -> dict:
    r = requests.post(meta["introspection_endpoint"], data={"token": token}, auth=("jobs-api", rs_secret), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def inactive_soon(meta: dict, rs_secret: str, token: str) -> dict:
    """Introspection until `active: false` (a change from the CLI reaches the server through the
    revocation feed within a second); answers the last answer."""
    deadline = time.monotonic() + 3
    while True:
        v = introspect(meta, rs_secret, token)
        if not v["active"] or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def test_authlib_client_credentials_with_private_key_jwt(server_factory, tmp_path):
    srv, meta, rs_secret = provider(server_factory)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    leakscan.register_pem_private_key(pem)
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update(kid="job-key-1", alg="ES256", use="sig")
    jwks = tmp_path / "job.jwks.json"
    jwks.write_text(json.dumps({"keys": [public]}))
    account = service_client(srv, "nightly-job", auth_method="private_key_jwt", jwks_file=jwks)["serviceAccount"]

    sess = OAuth2Session("nightly-job", pem, token_endpoint_auth_method="private_key_jwt",
                         revocation_endpoint_auth_method="private_key_jwt")
    sess.register_client_auth_method(ShortLivedPrivateKeyJWT(headers={"kid": "job-key-1"}))
    token = sess.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="openid orgs")
    assert token["token_type"].lower() == "bearer" and token["scope"] == "orgs"     # openid is not granted
    assert "refresh_token" not in token and "id_token" not in token

    # A resource server verifies the JWT with the JWKS (PyJWT), then introspects it.
    access = token["access_token"]
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(access)
    claims = jwt.decode(access, signing_key, algorithms=["EdDSA"], audience="nightly-job", issuer=meta["issuer"])
    assert claims["sub"] == account["id"] and claims["client_id"] == "nightly-job"
    assert claims["org"] == account["orgId"] and claims["scope"] == "orgs"
    v = introspect(meta, rs_secret, access)
    assert v["active"] is True and v["sub"] == account["id"] and v["service_account"] is True
    assert v["roles"] == ["EXECUTOR"] and v["client_id"] == "nightly-job" and v["scope"] == "orgs"
    # The client introspects its own token too (authenticating with a fresh assertion).
    assert sess.introspect_token(meta["introspection_endpoint"], token=access).json()["active"] is True

    with pytest.raises(OAuthError) as e:
        sess.fetch_token(meta["token_endpoint"], grant_type="client_credentials", scope="orgs email")
    assert e.value.error == "invalid_scope"

    # Disabled from the CLI: the running server stops the token within a second.
    srv.admin("client", "disable", "nightly-job")
    assert inactive_soon(meta, rs_secret, access) == {"active": False}
    with pytest.raises(OAuthError) as e:
        sess.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert e.value.error == "invalid_client"


def test_oauth4webapi_client_credentials_with_client_secret_basic(server_factory):
    node = paths.node_binary()
    if not node or not (paths.FEDERATION_DIR / "node_modules" / "oauth4webapi").is_dir():
        pytest.fail("node and tests/federation/node_modules (npm ci) are needed")
    srv, meta, rs_secret = provider(server_factory)
    shown = service_client(srv, "etl-job")
    spec = {"issuer": srv.base_url, "client_id": "etl-job", "client_secret": shown["clientSecret"],
            "scope": "profile", "wider_scope": "profile email",
            "resource": {"client_id": "jobs-api", "client_secret": rs_secret}}
    proc = subprocess.run([node, str(paths.FEDERATION_DIR / "client_credentials.mjs")], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=60, cwd=paths.FEDERATION_DIR)
    assert proc.returncode == 0, proc.stderr[-4000:]
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "client_credentials" in s["grant_types_supported"]
    t = s["token"]
    assert t["token_type"].lower() == "bearer" and t["scope"] == "profile" and t["expires_in"] > 0
    assert t["has_refresh_token"] is False and t["has_id_token"] is False
    account = shown["serviceAccount"]
    # oauth4webapi's resource-server check (RFC 9068) accepted the token; its claims:
    assert s["claims"] == {"sub": account["id"], "client_id": "etl-job", "aud": "etl-job",
                           "org": account["orgId"], "scope": "profile"}
    i = s["introspection"]
    assert i["active"] is True and i["sub"] == account["id"] and i["roles"] == ["EXECUTOR"]
    assert s["wider"] == {"error": "invalid_scope", "status": 400}
    # RFC 7009 ended the account's tokens so far; the next one works.
    assert s["after_revocation"] == {"active": False}
    assert s["new_token_after_revocation"]["active"] is True
