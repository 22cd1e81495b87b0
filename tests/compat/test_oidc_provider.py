"""Portcullis as an OpenID provider for PyPI `authlib` (OAuth2Session), without a browser: the code
comes from the real authorize → /login → resume chain driven with `requests`
(harness/oidc_clients.py), then authlib does the token exchange (PKCE S256), refresh rotation and
reuse detection, RFC 7662 introspection and RFC 7009 revocation, for client_secret_basic,
client_secret_post and private_key_jwt clients.
"""
from __future__ import annotations

import base64
import hashlib
import time

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import RSAKey
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness import leakscan
from harness.oidc_clients import USER_PASSWORD, add_user, client_toml, secret_file, sign_in_without_browser, start_provider

EMAIL = "grace@example.com"
# Registered without a port: a loopback IP literal matches on any port (RFC 8252 §7.3). Nothing
# listens there; the final redirect is read, never followed.
REGISTERED_REDIRECT = "http://127.0.0.1/authlib/callback"
REDIRECT = "http://127.0.0.1:49152/authlib/callback"
SCOPE = "openid profile email"


def confidential(tmp_path, client_id: str, **extra) -> tuple[str, str]:
    path, secret = secret_file(tmp_path / "secrets", client_id)
    toml = client_toml(client_id=client_id, name=f"authlib {client_id}", kind="confidential", secret_file=path,
                       redirect_uris=[REGISTERED_REDIRECT], grant_types=["authorization_code", "refresh_token"],
                       first_party=True, **extra)
    return toml, secret


def provider(server_factory, toml: str, auth_method: str):
    """A server with the client declared and the user, and its discovery document."""
    srv = start_provider(server_factory, toml)
    add_user(srv, EMAIL, name="Grace Hopper")
    r = requests.get(srv.base_url + "/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, r.text
    meta = r.json()
    assert auth_method in meta["token_endpoint_auth_methods_supported"]
    return srv, meta


def session(client_id: str, credential: str, auth_method: str) -> OAuth2Session:
    """authlib's client, authenticating with `auth_method` at every endpoint."""
    return OAuth2Session(client_id, credential, scope=SCOPE, redirect_uri=REDIRECT, code_challenge_method="S256",
                         token_endpoint_auth_method=auth_method, revocation_endpoint_auth_method=auth_method)


def code_flow(srv, meta: dict, sess: OAuth2Session) -> tuple[dict, str]:
    """authlib builds the request (PKCE S256, state, nonce); the sign-in is driven with requests;
    authlib exchanges the code. Answers (token, nonce)."""
    verifier = generate_token(48)
    nonce = generate_token(24)
    url, state = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert f"code_challenge={challenge}" in url and "code_challenge_method=S256" in url
    back = sign_in_without_browser(srv.base_url, url, EMAIL, USER_PASSWORD)
    assert back.url.startswith(REDIRECT + "?"), back.url
    assert back.params["state"] == state and back.params["iss"] == srv.base_url      # RFC 9207
    token = sess.fetch_token(meta["token_endpoint"], authorization_response=back.url, code_verifier=verifier)
    return token, nonce


def id_token_claims(meta: dict, id_token: str, client_id: str) -> dict:
    """The ID token checked against the JWKS (PyJWT): signature, iss, aud, exp."""
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key, algorithms=meta["id_token_signing_alg_values_supported"],
                      audience=client_id, issuer=meta["issuer"])


def inactive_soon(sess: OAuth2Session, url: str, token: str, hint: str | None = None) -> dict:
    """Introspection until `active: false` (a revocation reaches the token cache within the
    revocation feed's second); answers the last answer."""
    deadline = time.monotonic() + 3
    while True:
        r = sess.introspect_token(url, token=token, token_type_hint=hint)
        assert r.status_code == 200, r.text
        if not r.json()["active"] or time.monotonic() > deadline:
            return r.json()
        time.sleep(0.1)


def refused(fn, *args, **kw) -> str:
    with pytest.raises(OAuthError) as e:
        fn(*args, **kw)
    return e.value.error


@pytest.fixture
def basic_client(server_factory, tmp_path):
    toml, secret = confidential(tmp_path, "authlib-basic")
    srv, meta = provider(server_factory, toml, "client_secret_basic")
    return srv, meta, session("authlib-basic", secret, "client_secret_basic")


def test_authlib_code_exchange_refresh_rotation_and_reuse(basic_client):
    srv, meta, sess = basic_client
    t1, nonce = code_flow(srv, meta, sess)
    assert t1["token_type"].lower() == "bearer" and set(t1["scope"].split()) == set(SCOPE.split())
    claims = id_token_claims(meta, t1["id_token"], "authlib-basic")
    assert claims["nonce"] == nonce and claims["email"] == EMAIL and claims["name"] == "Grace Hopper"
    r = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {t1['access_token']}"}, timeout=10)
    assert r.status_code == 200 and r.json()["sub"] == claims["sub"], r.text

    # Rotation: a new refresh token on every use; the ID token again, without nonce.
    t2 = sess.refresh_token(meta["token_endpoint"], refresh_token=t1["refresh_token"])
    assert t2["refresh_token"] != t1["refresh_token"] and t2["access_token"] != t1["access_token"]
    refreshed = id_token_claims(meta, t2["id_token"], "authlib-basic")
    assert refreshed["sub"] == claims["sub"] and "nonce" not in refreshed
    assert sess.introspect_token(meta["introspection_endpoint"], token=t2["access_token"]).json()["active"] is True

    # Reuse of the rotated token: refused, and the whole family is revoked with it.
    assert refused(sess.refresh_token, meta["token_endpoint"], refresh_token=t1["refresh_token"]) == "invalid_grant"
    assert refused(sess.refresh_token, meta["token_endpoint"], refresh_token=t2["refresh_token"]) == "invalid_grant"
    assert inactive_soon(sess, meta["introspection_endpoint"], t2["access_token"]) == {"active": False}
    r = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {t2['access_token']}"}, timeout=10)
    assert r.status_code == 401, r.text


def test_authlib_code_replay_revokes_the_grant(basic_client):
    srv, meta, sess = basic_client
    verifier = generate_token(48)
    url, _ = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                           nonce=generate_token(24))
    back = sign_in_without_browser(srv.base_url, url, EMAIL, USER_PASSWORD)
    t = sess.fetch_token(meta["token_endpoint"], authorization_response=back.url, code_verifier=verifier)
    again = refused(sess.fetch_token, meta["token_endpoint"], authorization_response=back.url, code_verifier=verifier)
    assert again == "invalid_grant"
    # RFC 6749 §4.1.2: the tokens the code gave are revoked.
    assert refused(sess.refresh_token, meta["token_endpoint"], refresh_token=t["refresh_token"]) == "invalid_grant"
    assert inactive_soon(sess, meta["introspection_endpoint"], t["access_token"]) == {"active": False}


def test_authlib_introspection_and_revocation(basic_client):
    srv, meta, sess = basic_client
    t, _ = code_flow(srv, meta, sess)
    url = meta["introspection_endpoint"]
    at = sess.introspect_token(url, token=t["access_token"], token_type_hint="access_token")
    assert at.status_code == 200 and at.headers["Cache-Control"] == "no-store", at.headers
    info = at.json()
    assert info["active"] is True and info["client_id"] == "authlib-basic" and info["token_type"] == "Bearer"
    assert info["iss"] == srv.base_url and set(info["scope"].split()) == set(SCOPE.split())
    assert info["exp"] > time.time() > info["iat"] - 5
    rt = sess.introspect_token(url, token=t["refresh_token"], token_type_hint="refresh_token").json()
    assert rt["active"] is True and rt["token_type"] == "refresh_token" and rt["sub"] == info["sub"]
    # Unknown tokens are inactive; a wrong secret is no client at all.
    assert sess.introspect_token(url, token="not-a-token").json() == {"active": False}
    wrong = OAuth2Session("authlib-basic", "wrong-secret-" + generate_token(20))
    bad = wrong.introspect_token(url, token=t["access_token"])
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert "Basic" in bad.headers.get("WWW-Authenticate", "")

    # RFC 7009: revoking the refresh token ends the grant, so the access token too.
    r = sess.revoke_token(meta["revocation_endpoint"], token=t["refresh_token"], token_type_hint="refresh_token")
    assert r.status_code == 200, r.text
    assert sess.introspect_token(url, token=t["refresh_token"]).json() == {"active": False}
    assert inactive_soon(sess, url, t["access_token"]) == {"active": False}
    assert refused(sess.refresh_token, meta["token_endpoint"], refresh_token=t["refresh_token"]) == "invalid_grant"
    # Revoking again, or a token nobody issued, is a silent 200.
    assert sess.revoke_token(meta["revocation_endpoint"], token=t["refresh_token"]).status_code == 200
    assert sess.revoke_token(meta["revocation_endpoint"], token="unknown-" + generate_token(20)).status_code == 200


def test_authlib_client_secret_post(server_factory, tmp_path):
    toml, secret = confidential(tmp_path, "authlib-post", token_endpoint_auth_method="client_secret_post")
    srv, meta = provider(server_factory, toml, "client_secret_post")
    sess = session("authlib-post", secret, "client_secret_post")
    t, _ = code_flow(srv, meta, sess)
    id_token_claims(meta, t["id_token"], "authlib-post")
    url = meta["introspection_endpoint"]
    assert sess.introspect_token(url, token=t["access_token"]).json()["active"] is True
    # Exactly the registered method: the same secret in a Basic header is refused.
    basic = OAuth2Session("authlib-post", secret, token_endpoint_auth_method="client_secret_basic")
    assert basic.introspect_token(url, token=t["access_token"]).json()["error"] == "invalid_client"
    assert sess.revoke_token(meta["revocation_endpoint"], token=t["access_token"]).status_code == 200
    assert inactive_soon(sess, url, t["access_token"]) == {"active": False}


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """authlib's assertion with a 60 s lifetime (openid-client's default). authlib's own default is
    3600 s, and Portcullis takes assertions of at most 300 s (docs/design/oidc-provider.md)."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(RSAKey.import_key(auth.client_secret), client_id=auth.client_id,
                                    token_endpoint=token_endpoint, header=self.headers, alg=self.alg,
                                    expires_in=60)


def test_authlib_private_key_jwt(server_factory, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    leakscan.register_pem_private_key(pem)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update(kid="authlib-key-1", alg="RS256", use="sig")
    toml = client_toml(client_id="authlib-pkjwt", name="authlib private_key_jwt", kind="confidential",
                       token_endpoint_auth_method="private_key_jwt", jwks={"keys": [public]},
                       redirect_uris=[REGISTERED_REDIRECT], grant_types=["authorization_code", "refresh_token"],
                       first_party=True)
    srv, meta = provider(server_factory, toml, "private_key_jwt")
    sess = session("authlib-pkjwt", pem, "private_key_jwt")
    # No fixed endpoint: each assertion's aud is the URL it is sent to (token, introspection, revocation).
    sess.register_client_auth_method(ShortLivedPrivateKeyJWT(headers={"kid": "authlib-key-1"}))
    t1, _ = code_flow(srv, meta, sess)
    id_token_claims(meta, t1["id_token"], "authlib-pkjwt")
    t2 = sess.refresh_token(meta["token_endpoint"], refresh_token=t1["refresh_token"])
    url = meta["introspection_endpoint"]
    assert sess.introspect_token(url, token=t2["access_token"]).json()["active"] is True
    assert sess.revoke_token(meta["revocation_endpoint"], token=t2["refresh_token"]).status_code == 200
    assert inactive_soon(sess, url, t2["access_token"]) == {"active": False}
