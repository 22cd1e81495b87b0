"""OAuth 2.0 Token Exchange (RFC 8693) on Portcullis's token endpoint, driven by npm `oauth4webapi`
3.8.9 (tests/federation/token_exchange.mjs): a delegation (the service's own token as actor) for an
allowed audience, checked as a resource server would (`validateJwtAccessToken`: RFC 9068, the
JWKS, iss, aud) and decoded with `jose` (`act`, `aud`, `client_id`, `exp`); a chained delegation
(`act.act`) and the third link refused; impersonation under a `[[core.oidc.token_exchange.
impersonation]]` policy; an upstream ID token of the trusted provider (tests/federation/
provider.mjs) whose identity is linked; and refusals (audience, scope, untrusted upstream ID token,
may_act naming someone else). The subject and actor tokens come from the real code flow
(harness/oidc_clients.py).
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import pytest
import requests

from harness import leakscan, paths
from harness.oidc_clients import USER_PASSWORD, add_user, client_toml, secret_file, sign_in_without_browser, start_provider
from test_federation import get_access_token, provider_toml

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
API = "https://api.example.test"
REDIRECT = "http://127.0.0.1/tx/callback"
SUBJECT = "ada@example.com"
ACTOR = "ops@example.com"
SCRIPT = paths.FEDERATION_DIR / "token_exchange.mjs"

pytestmark = pytest.mark.federation


def code_token(srv, client_id: str, secret: str, email: str) -> dict:
    """The tokens of a code grant of `client_id` for `email` (a fresh browser, PKCE S256)."""
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = (f"{srv.base_url}/oauth2/authorize?response_type=code&client_id={client_id}&scope=openid+profile+email"
           f"&redirect_uri={REDIRECT}&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256")
    back = sign_in_without_browser(srv.base_url, url, email, USER_PASSWORD)
    r = requests.post(srv.base_url + "/oauth2/token", auth=(client_id, secret), timeout=10,
                      data={"grant_type": "authorization_code", "code": back.params["code"],
                            "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    t = r.json()
    leakscan.register("access_token", t["access_token"])
    return t


def run_exchanges(srv, client_id: str, secret: str, exchanges: list[dict]) -> dict:
    spec = {"issuer": srv.base_url, "client_id": client_id, "client_secret": secret, "exchanges": exchanges}
    p = subprocess.run([paths.node_binary() or "node", str(SCRIPT)], cwd=paths.FEDERATION_DIR, input=json.dumps(spec),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    for r in out["results"].values():
        if r["ok"]:
            leakscan.register("access_token", r["response"]["access_token"])
    return out


def test_token_exchange_with_oauth4webapi(server_factory, oidc_provider, tmp_path):
    path, secret = secret_file(tmp_path / "secrets", "tx-svc")
    config = (
        client_toml(client_id="tx-svc", name="Exchange service", kind="confidential", secret_file=path,
                    redirect_uris=[REDIRECT], first_party=True,
                    grant_types=["authorization_code", GRANT], token_exchange_audiences=[API, "tx-svc"])
        + provider_toml(oidc_provider, "corp", jit_provisioning=True, jit_orgs=["acme"])
        + '[[core.oidc.token_exchange.impersonation]]\nclient_id = "tx-svc"\norg = "acme"\n'
    )
    srv = start_provider(server_factory, config)
    add_user(srv, SUBJECT)
    srv.admin.create_user(ACTOR, name="Ops", password=USER_PASSWORD)
    srv.admin.add_member("acme", ACTOR, "AUTHOR")
    srv.cli("allowlist", "add", "domain", "example.com")

    subject = code_token(srv, "tx-svc", secret, SUBJECT)
    actor = code_token(srv, "tx-svc", secret, ACTOR)
    # The upstream identity is linked by its first sign-in (JIT), here through Nominal.
    upstream = oidc_provider.tokens("grace-sub", "grace@example.com", name="Grace")
    get_access_token(srv, upstream["id_token"])
    stranger = oidc_provider.sign({"sub": "who-sub", "email": "who@example.com"})
    wrong_may_act = oidc_provider.sign({"sub": "grace-sub", "may_act": {"sub": "someone-else"}})
    delegate = {"subject_token": subject["access_token"], "subject_token_type": ACCESS,
                "actor_token": actor["access_token"], "actor_token_type": ACCESS}
    out = run_exchanges(srv, "tx-svc", secret, [
        {"name": "delegation", "params": {**delegate, "audience": API, "scope": "openid email"}, "audience": API},
        {"name": "to_self", "params": {**delegate, "audience": "tx-svc"}},
        {"name": "impersonation", "params": {"subject_token": subject["access_token"],
                                             "subject_token_type": ACCESS, "resource": API}, "audience": API},
        {"name": "upstream", "params": {"subject_token": upstream["id_token"], "subject_token_type": ID_TOKEN,
                                        "actor_token": actor["access_token"], "actor_token_type": ACCESS,
                                        "audience": API}, "audience": API},
        {"name": "audience_refused", "params": {**delegate, "audience": "https://payroll.example.test"}},
        {"name": "scope_refused", "params": {**delegate, "audience": API, "scope": "openid orgs"}},
        {"name": "unlinked_upstream", "params": {"subject_token": stranger, "subject_token_type": ID_TOKEN,
                                                 "actor_token": actor["access_token"],
                                                 "actor_token_type": ACCESS, "audience": API}},
        {"name": "may_act_refused", "params": {"subject_token": wrong_may_act, "subject_token_type": ID_TOKEN,
                                               "actor_token": actor["access_token"],
                                               "actor_token_type": ACCESS, "audience": API}},
    ])
    assert GRANT in out["grant_types_supported"]
    res = out["results"]

    d = res["delegation"]
    assert d["ok"], d
    assert d["response"]["issued_token_type"] == ACCESS and d["response"]["token_type"] == "bearer"
    assert "refresh_token" not in d["response"] and d["response"]["scope"] == "openid email"
    c = d["claims"]
    subject_claims = requests.post(srv.base_url + "/oauth2/introspect", auth=("tx-svc", secret), timeout=10,
                                   data={"token": subject["access_token"]}).json()
    actor_claims = requests.post(srv.base_url + "/oauth2/introspect", auth=("tx-svc", secret), timeout=10,
                                 data={"token": actor["access_token"]}).json()
    assert d["header"]["alg"] == "EdDSA" and d["header"]["typ"] == "at+jwt"
    assert c["aud"] == API == d["verified_aud"] and c["iss"] == srv.base_url
    assert c["sub"] == subject_claims["sub"] == d["verified_sub"] and c["client_id"] == "tx-svc"
    assert c["act"] == {"sub": actor_claims["sub"], "client_id": "tx-svc"}
    assert c["exp"] <= subject_claims["exp"] and c["scope"] == "openid email"
    # Usable where access tokens are: introspection and userinfo show who acts.
    info = requests.post(srv.base_url + "/oauth2/introspect", auth=("tx-svc", secret), timeout=10,
                         data={"token": d["response"]["access_token"]}).json()
    assert info["active"] is True and info["act"] == c["act"] and info["aud"] == API
    me = requests.get(srv.base_url + "/oauth2/userinfo", timeout=10,
                      headers={"Authorization": f"Bearer {d['response']['access_token']}"})
    assert me.status_code == 200 and me.json()["act"]["sub"] == actor_claims["sub"], me.text

    # A chain: the token made for the service itself is exchanged again (act.act), a third link refused.
    first = res["to_self"]["response"]["access_token"]
    chain = run_exchanges(srv, "tx-svc", secret, [
        {"name": "second", "params": {"subject_token": first, "subject_token_type": ACCESS,
                                      "actor_token": actor["access_token"], "actor_token_type": ACCESS,
                                      "audience": "tx-svc"}},
    ])["results"]["second"]
    assert chain["ok"], chain
    assert chain["claims"]["act"]["act"] == {"sub": actor_claims["sub"], "client_id": "tx-svc"}
    third = run_exchanges(srv, "tx-svc", secret, [
        {"name": "third", "params": {"subject_token": chain["response"]["access_token"],
                                     "subject_token_type": ACCESS, "actor_token": actor["access_token"],
                                     "actor_token_type": ACCESS, "audience": API}},
    ])["results"]["third"]
    assert not third["ok"] and third["error"] == "invalid_request" and "2 actors" in third["error_description"]

    imp = res["impersonation"]
    assert imp["ok"], imp
    assert imp["claims"]["sub"] == subject_claims["sub"] and "act" not in imp["claims"]
    assert imp["claims"]["aud"] == API

    up = res["upstream"]
    assert up["ok"], up
    assert up["claims"]["amr"] == ["fed"] and up["claims"]["act"]["sub"] == actor_claims["sub"]
    assert up["claims"]["sub"] not in (subject_claims["sub"], actor_claims["sub"])
    assert up["claims"]["exp"] <= upstream["id_token_claims"]["exp"]

    for name, error in [("audience_refused", "invalid_target"), ("scope_refused", "invalid_scope"),
                        ("unlinked_upstream", "invalid_request"), ("may_act_refused", "invalid_request")]:
        assert not res[name]["ok"] and res[name]["error"] == error, (name, res[name])
        assert res[name]["status"] == 400
    assert "linked" in res["unlinked_upstream"]["error_description"]
    assert "may_act" in res["may_act_refused"]["error_description"]
