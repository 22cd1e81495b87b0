"""Proves the federation harness (tests/federation/provider.mjs) on its own; needs no Portcullis."""
import time

import jwt
import pytest
import requests
from jwt import PyJWKClient

pytestmark = pytest.mark.federation


def verify(token: str, jwks: dict, **kw) -> dict:
    header = jwt.get_unverified_header(token)
    keys = {k["kid"]: k for k in jwks["keys"]}
    assert header["kid"] in keys, f"kid {header['kid']} not in JWKS {sorted(keys)}"
    key = jwt.PyJWK(keys[header["kid"]])
    return jwt.decode(token, key=key.key, algorithms=[header["alg"]], **kw)


def test_discovery_and_jwks(oidc_provider):
    doc = oidc_provider.discovery()
    assert doc["issuer"] == oidc_provider.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
                     "end_session_endpoint"):
        assert doc[endpoint].startswith(oidc_provider.issuer + "/"), endpoint
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    jwks = oidc_provider.jwks()
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key, "private key material leaked into the JWKS"


def test_tokens_are_genuine_and_verify(oidc_provider):
    out = oidc_provider.tokens("user-123", "ann@example.com", name="Ann Example", groups=["eng", "admins"])
    jwks = oidc_provider.jwks()

    idt = verify(out["id_token"], jwks, audience=oidc_provider.client_id, issuer=oidc_provider.issuer)
    assert idt["sub"] == "user-123"
    assert idt["email"] == "ann@example.com"
    assert idt["email_verified"] is True
    assert idt["name"] == "Ann Example"
    assert idt["groups"] == ["eng", "admins"]
    assert idt["nonce"] == out["nonce"]
    assert idt["exp"] > time.time()
    assert jwt.get_unverified_header(out["id_token"])["alg"] == "RS256"

    at = verify(out["access_token"], jwks, audience=oidc_provider.client_id, issuer=oidc_provider.issuer)
    assert jwt.get_unverified_header(out["access_token"])["typ"] == "at+jwt"
    assert at["sub"] == "user-123"
    assert at["email"] == "ann@example.com"
    assert at["client_id"] == oidc_provider.client_id
    assert out["expires_in"] > 0 and out["refresh_token"]

    # The same check through PyJWKClient, i.e. the way a relying party fetches keys from jwks_uri.
    client = PyJWKClient(oidc_provider.discovery()["jwks_uri"])
    key = client.get_signing_key_from_jwt(out["id_token"])
    jwt.decode(out["id_token"], key.key, algorithms=["RS256"], audience=oidc_provider.client_id)

    # A refresh at the real token endpoint yields a new JWT access token for the same audience.
    r = oidc_provider.refresh(out["refresh_token"])
    assert r.status_code == 200, r.text
    verify(r.json()["access_token"], jwks, audience=oidc_provider.client_id, issuer=oidc_provider.issuer)


def test_options_audience_ttl_opaque_unverified_email(oidc_provider):
    out = oidc_provider.tokens("u2", "bob@example.com", email_verified=False, audience="other-api",
                               access_token_ttl=120, id_token_ttl=60)
    jwks = oidc_provider.jwks()
    at = verify(out["access_token"], jwks, audience="other-api")
    assert at["exp"] - at["iat"] == 120
    idt = verify(out["id_token"], jwks, audience=oidc_provider.client_id)
    assert idt["email_verified"] is False
    assert idt["exp"] - idt["iat"] == 60

    opaque = oidc_provider.tokens("u3", "carol@example.com", access_token_format="opaque")
    assert opaque["access_token"].count(".") == 0
    info = oidc_provider.userinfo(opaque["access_token"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == "u3" and info.json()["email"] == "carol@example.com"


def test_rotate_keys(oidc_provider):
    old_kid = oidc_provider.jwks()["keys"][0]["kid"]
    before = oidc_provider.tokens("rot", "rot@example.com")

    rotated = oidc_provider.rotate_keys()                      # old key dropped
    jwks = oidc_provider.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [rotated["kid"]] != [old_kid]
    after = oidc_provider.tokens("rot", "rot@example.com")
    assert jwt.get_unverified_header(after["id_token"])["kid"] == rotated["kid"]
    verify(after["id_token"], jwks, audience=oidc_provider.client_id)
    with pytest.raises(AssertionError):
        verify(before["id_token"], jwks, audience=oidc_provider.client_id)

    kept = oidc_provider.rotate_keys(keep_old=True, alg="ES256")  # previous key still published
    jwks = oidc_provider.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [kept["kid"], rotated["kid"]]
    es = oidc_provider.tokens("rot", "rot@example.com")
    assert jwt.get_unverified_header(es["id_token"])["alg"] == "ES256"
    verify(es["id_token"], jwks, audience=oidc_provider.client_id)
    verify(after["id_token"], jwks, audience=oidc_provider.client_id)


def test_sign_arbitrary_claims(oidc_provider):
    jwks = oidc_provider.jwks()
    tok = oidc_provider.sign({"sub": "x", "email": "x@example.com"}, ttl=-30)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(tok, jwks, audience=oidc_provider.client_id)
    foreign = oidc_provider.sign({"sub": "x"}, key="foreign")
    with pytest.raises(AssertionError):
        verify(foreign, jwks, audience=oidc_provider.client_id)


def test_es256_provider_and_custom_client(oidc_provider_factory):
    prov = oidc_provider_factory(alg="ES256", client_id="nominal-web", audience="nominal-api")
    jwks = prov.jwks()
    assert jwks["keys"][0]["kty"] == "EC"
    out = prov.tokens("e1", "e1@example.com")
    idt = verify(out["id_token"], jwks, audience="nominal-web", issuer=prov.issuer)
    assert idt["email"] == "e1@example.com"
    verify(out["access_token"], jwks, audience="nominal-api", issuer=prov.issuer)
    assert prov.health()["client_id"] == "nominal-web"


def test_stop(oidc_provider_factory):
    prov = oidc_provider_factory()
    assert prov.stop() == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(prov.discovery_url, timeout=2)
