"""Portcullis as an OpenID provider for a relying party nobody here wrote: npm `openid-client` 6
(tests/federation/rp.mjs) with headless Debian Chromium signing in on the real /login page.

Per client: discovery, authorization with PKCE S256 + state + nonce, the code grant (openid-client
verifies the ID token's signature against the JWKS, iss, aud, nonce, and the response's iss and
state), userinfo, refresh, introspection, RP-initiated logout in the browser with id_token_hint,
and the back-channel logout token (verified with jose against the JWKS) naming the ID token's sid.
"""
from __future__ import annotations

import time

import pyotp
import pytest

from harness.oidc_clients import USER_PASSWORD, add_user, client_toml, start_provider
from harness.relying_party import RelyingParty
from test_browser_sso import UPSTREAM_PASSWORD, make_sso

pytestmark = pytest.mark.federation
EMAIL = "ada@example.com"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def relying_party(tmp_path):
    rp = RelyingParty(tmp_path / "rp")
    yield rp
    rp.stop()


def client_settings(rp: RelyingParty) -> dict:
    """What both registrations say: the RP's own URIs, refresh allowed, the three scopes."""
    return dict(redirect_uri=[rp.uris["redirect_uri"]],
                post_logout_redirect_uri=[rp.uris["post_logout_redirect_uri"]],
                backchannel_logout_uri=rp.uris["backchannel_logout_uri"],
                grant_type=["authorization_code", "refresh_token"], scope=["openid", "profile", "email"])


def check_summary(s: dict, srv, *, client_id: str, alg: str, consent: bool, logout_confirm: bool,
                  acr: str = "1") -> None:
    issuer = srv.base_url
    assert s["issuer"] == issuer
    assert s["discovery"]["code_challenge_methods_supported"] == ["S256"]
    assert s["discovery"]["end_session_endpoint"] == issuer + "/oauth2/logout"
    assert s["discovery"]["backchannel_logout_supported"] is True
    q = s["authorization_url"]
    assert q["code_challenge_method"] == "S256" and q["response_type"] == "code" and q["client_id"] == client_id
    # The browser went through the real sign-in page, carrying the pending request.
    assert s["sign_in_path"] == "/login" and s["sign_in_has_pending"] is True
    assert s["consent_shown"] is consent
    assert s["callback"]["iss"] == issuer and s["callback"]["state"] == q["state"]          # RFC 9207

    idc = s["id_token_claims"]
    assert s["id_token_header"]["alg"] == alg and s["id_token_header"].get("kid")
    assert idc["iss"] == issuer and idc["aud"] in (client_id, [client_id]) and idc["azp"] == client_id
    assert idc["nonce"] == s["nonce"] and idc["sid"] and idc["at_hash"]
    assert idc["email"] == EMAIL and idc["email_verified"] is True and idc["name"] == "Ada Lovelace"
    assert idc["acr"] == acr and "pwd" in idc["amr"] and idc["exp"] > idc["iat"] >= idc["auth_time"]
    assert s["token_type"].lower() == "bearer" and set(s["scope"].split()) == {"openid", "profile", "email"}
    assert s["expires_in"] and s["expires_in"] > 0
    assert s["userinfo"]["sub"] == idc["sub"] and s["userinfo"]["email"] == EMAIL

    r = s["refresh"]
    assert r["rotated"] and r["new_access_token"]
    rc = r["id_token_claims"]
    assert r["id_token_header"]["alg"] == alg
    assert rc["sub"] == idc["sub"] and rc["sid"] == idc["sid"] and "nonce" not in rc       # OIDC Core §12.2
    assert rc["acr"] == idc["acr"] and rc["amr"] == idc["amr"]
    assert r["introspection"]["active"] is True and r["introspection"]["client_id"] == client_id
    assert r["introspection"]["sub"] == idc["sub"]

    lo = s["logout"]
    assert lo["logged_out_path"] == "/logged-out" and lo["logged_out"] == {"state": lo["state"]}
    assert lo["confirm_shown"] is logout_confirm
    bc = lo["backchannel"]
    assert bc["error"] is None, bc
    assert bc["content_type"].startswith("application/x-www-form-urlencoded")
    assert bc["header"]["typ"] == "logout+jwt" and bc["header"]["alg"] == alg
    lt = bc["claims"]
    assert lt["iss"] == issuer and lt["aud"] in (client_id, [client_id])
    assert lt["events"] == {BACKCHANNEL_EVENT: {}}
    assert lt["sid"] == idc["sid"] and lt["sub"] == idc["sub"] and "nonce" not in lt
    # The grant ended with the browser sign-in; the next authorization signs in again.
    assert lo["refresh_after_logout"] == "invalid_grant"
    assert lo["sign_in_again_path"] == "/login"


def test_openid_client_confidential_client_secret_basic(server_factory, relying_party):
    """A first-party confidential web app registered with `portcullis admin client create` on the
    running server (client_secret_basic, RS256): no consent page."""
    relying_party.start()
    srv = start_provider(server_factory, "")
    add_user(srv, EMAIL)
    created = srv.admin.create_client("confidential", "RP web-app", client_id="web-app", first_party=True,
                                      **client_settings(relying_party))
    assert created["clientId"] == "web-app" and created["tokenEndpointAuthMethod"] == "client_secret_basic"
    s = relying_party.run({"issuer": srv.base_url, "client_id": "web-app", "client_secret": created["clientSecret"],
                           "auth": "client_secret_basic", "scope": "openid profile email",
                           "email": EMAIL, "password": USER_PASSWORD})
    check_summary(s, srv, client_id="web-app", alg="RS256", consent=False, logout_confirm=False)


def test_openid_client_public_client_none_es256(server_factory, relying_party):
    """A third-party public client declared in [[core.oidc.clients]] (no secret, ES256 ID tokens):
    the user allows on the consent page, and confirms the sign-out on the provider's page (the RP
    sends no id_token_hint)."""
    relying_party.start()
    settings = client_settings(relying_party)
    toml = client_toml(client_id="spa.app", name="RP spa.app", kind="public", id_token_alg="ES256",
                       redirect_uris=settings["redirect_uri"],
                       post_logout_redirect_uris=settings["post_logout_redirect_uri"],
                       backchannel_logout_uri=settings["backchannel_logout_uri"],
                       grant_types=settings["grant_type"], scopes=settings["scope"])
    srv = start_provider(server_factory, toml)
    add_user(srv, EMAIL)
    s = relying_party.run({"issuer": srv.base_url, "client_id": "spa.app", "auth": "none",
                           "id_token_alg": "ES256", "scope": "openid profile email", "consent": True,
                           "logout_without_hint": True, "email": EMAIL, "password": USER_PASSWORD})
    check_summary(s, srv, client_id="spa.app", alg="ES256", consent=True, logout_confirm=True)


def test_openid_client_user_whose_domain_signs_in_upstream(server_factory, oidc_provider_factory, relying_party,
                                                           tmp_path):
    """A user of a federated domain: no Portcullis password; the sign-in page sends the browser to
    the domain's provider (tests/federation/provider.mjs), which sends it back to the authorization."""
    relying_party.start()
    srv, _ = make_sso(server_factory, oidc_provider_factory, tmp_path)
    srv.admin.create_client("public", "RP sso.app", client_id="sso.app", first_party=True,
                            **client_settings(relying_party))
    s = relying_party.run({"issuer": srv.base_url, "client_id": "sso.app", "auth": "none",
                           "scope": "openid profile email", "email": "ada@example.com",
                           "upstream": {"login": "ada-sub", "password": UPSTREAM_PASSWORD}})
    assert s["sign_in_path"] == "/login" and s["upstream_path"], s
    idc = s["id_token_claims"]
    assert idc["email"] == "ada@example.com" and idc["aud"] in ("sso.app", ["sso.app"]) and idc["nonce"] == s["nonce"]
    assert s["userinfo"]["sub"] == idc["sub"] and s["refresh"]["rotated"]
    lo = s["logout"]
    assert lo["backchannel"]["claims"]["sid"] == idc["sid"] and lo["refresh_after_logout"] == "invalid_grant"


def test_openid_client_user_with_totp_types_the_code(server_factory, relying_party):
    """A user with TOTP (enrolled over the account API): the RP asks for `acr_values` multi-factor
    (the PAPE URI); Chromium types the password, then the code (pyotp) on the second-step page; the
    ID token names that acr and amr pwd, otp, mfa; the refresh keeps them."""
    relying_party.start()
    srv = start_provider(server_factory, "")
    add_user(srv, EMAIL)
    created = srv.admin.create_client("confidential", "RP mfa-app", client_id="mfa-app", first_party=True,
                                      **client_settings(relying_party))
    assert "urn:portcullis:acr:mfa" in srv.get("/.well-known/openid-configuration").json()["acr_values_supported"]
    login = srv.parsable_call("login", {"email": EMAIL, "password": USER_PASSWORD})
    auth = {"Authorization": f"Bearer {login['result']['success']['authToken']}"}
    r = srv.post("/account/v1/factors/totp", json={"name": "phone"}, headers=auth)
    assert r.status_code == 201, r.text
    totp = pyotp.parse_uri(r.json()["otpauthUri"])
    # Early in a 30 s step: the previous step's code confirms, the current one is typed later (it
    # stays valid into the next step, long enough for Chromium to start).
    while time.time() % 30 >= 10:
        time.sleep(0.5)
    now = time.time()
    r = srv.post(f"/account/v1/factors/totp/{r.json()['factorId']}/confirm", json={"code": totp.at(now - 30)},
                 headers=auth)
    assert r.status_code == 200, r.text
    pape = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    s = relying_party.run({"issuer": srv.base_url, "client_id": "mfa-app", "client_secret": created["clientSecret"],
                           "auth": "client_secret_basic", "scope": "openid profile email", "acr_values": pape,
                           "email": EMAIL, "password": USER_PASSWORD, "totp_code": totp.at(now)})
    assert s["second_step_shown"] is True, s
    check_summary(s, srv, client_id="mfa-app", alg="RS256", consent=False, logout_confirm=False, acr=pape)
    assert s["id_token_claims"]["amr"] == ["pwd", "otp", "mfa"]
