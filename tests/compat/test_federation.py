"""Federation end to end: a real node `oidc-provider` (tests/federation) in front of the real binary,
driven with the real clients — PyPI `nominal-api` for Nominal, the generated Thrift stubs over
TCompactProtocol and TJSONProtocol and the JSON envelope for Parsable.

Upstream ID tokens go to Nominal getAccessToken / getUserOrgs / getIdpEndSessionEndpoint, upstream
access tokens to Nominal refreshAccessToken and to Parsable `loginWithIdp*` (`Idp-Authorization`) and
`loginWithSSO`. See docs/design/federation.md for the rules and the error table.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from conjure_python_client import ConjureHTTPError
from nominal_api import authentication_api as authn
from nominal_api import authorization as authz

from harness.clients import ThriftClient, bearer, parsable_call

PROTOCOLS = ("compact", "json")
DAY = 24 * 3600


# --- helpers -------------------------------------------------------------------------------------

def provider_toml(prov, alias: str, **opts) -> str:
    """One [[federation.providers]] table for an OidcProvider; opts are extra keys (jit_orgs is a
    list of org names)."""
    lines = ["[[federation.providers]]", f'alias = "{alias}"', f'issuer = "{prov.issuer}"',
             f'client_ids = ["{prov.client_id}"]', "refetch_min_interval_secs = 0"]
    jit_orgs = opts.pop("jit_orgs", None)
    for k, v in opts.items():
        lines.append(f"{k} = {json.dumps(v)}")
    if jit_orgs:
        items = ", ".join(f'{{ org = "{o}", roles = ["AUTHOR"] }}' for o in jit_orgs)
        lines.append(f"jit_orgs = [{items}]")
    return "\n".join(lines) + "\n"


def start(server_factory, *tables: str, orgs=("alpha",), allow="example.com"):
    # Many credential calls from one address: lift the per-IP limit above what a test sends.
    limits = "[core.rate_limit]\nper_ip_per_sec = 1000\nburst = 1000\n\n"
    srv = server_factory(config=limits + "".join(tables))
    for o in orgs:
        srv.cli("org", "create", o)
    if allow:
        srv.cli("allowlist", "add", "domain", allow)
    return srv


def org_id(srv, name: str) -> str:
    out = srv.cli("org", "show", name)
    return str(out["id"] if "id" in out else out["org"]["id"])


def nominal(srv):
    return srv.nominal(authz.AuthorizationService)


def get_access_token(srv, id_token, *, access_token=None, org_rid=None, workspace_rid=None):
    return nominal(srv).get_access_token(authz.GetAccessTokenRequest(
        id_token=id_token, access_token=access_token, org_rid=org_rid, workspace_rid=workspace_rid))


def conjure_error(fn) -> ConjureHTTPError:
    with pytest.raises(ConjureHTTPError) as ei:
        fn()
    return ei.value


def gat_error(srv, id_token, **kw) -> ConjureHTTPError:
    return conjure_error(lambda: get_access_token(srv, id_token, **kw))


def refresh_error(srv, access_token, org_rid=None) -> ConjureHTTPError:
    return conjure_error(lambda: nominal(srv).refresh_access_token(
        authz.RefreshAccessTokenRequest(access_token=access_token, org_rid=org_rid)))


def idp_call(srv, method, idp_token, args=None) -> dict:
    """A Parsable call in the JSON envelope with `Idp-Authorization: Bearer <idp_token>`."""
    return parsable_call(srv.auth_url, method, args or {}, idp_token=idp_token)


def idp_err(srv, method, idp_token, args=None) -> dict:
    v = idp_call(srv, method, idp_token, args)
    e = v.get("result", {}).get("err")
    assert e, f"{method}: expected err, got {v}"
    assert e["rqId"] and e["message"] == e["localizedMessage"], e
    return e


def idp_ok(srv, method, idp_token, args=None) -> dict:
    v = idp_call(srv, method, idp_token, args)
    assert "err" not in v.get("result", {}) and "exception" not in v, f"{method}: {v}"
    return v["result"]["success"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def org_rid(oid: str) -> str:
    return f"ri.authn.local.organization.{oid}"


# --- the main flows ------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_real_tokens_through_both_apis(server_factory, oidc_provider, thrift_stubs, protocol):
    """JIT provisioning; the same identity on both APIs; lifetimes; refresh; SSO; startLogin."""
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", kind="okta", jit_provisioning=True,
                                              jit_orgs=["alpha"], email_domains=["example.com"]))
    alpha = org_id(srv, "alpha")
    t = prov.tokens("sub-ada", email="ada@example.com", name="Ada Upstream")

    # Nominal getAccessToken: capped at the ID token's remaining life (1 h here, not 24 h), a
    # usable Nominal token, the JIT user in alpha.
    r = get_access_token(srv, t["id_token"])
    assert r.expires_at_seconds == t["id_token_claims"]["exp"]
    assert r.org_uuid == alpha and r.is_guest is False
    me = srv.nominal(authn.AuthenticationServiceV2).get_my_profile(bearer(r.access_token))
    assert me.email == "ada@example.com" and me.display_name == "Ada Upstream"
    user_uuid = r.user_uuid

    # With an access token for userinfo too (the provider's userinfo takes its opaque tokens), the
    # same user; a userinfo refusal is NotAuthorized.
    op = prov.tokens("sub-ada", email="ada@example.com", name="Ada Upstream", access_token_format="opaque")
    assert get_access_token(srv, op["id_token"], access_token=op["access_token"]).user_uuid == user_uuid
    assert gat_error(srv, op["id_token"], access_token="bogus-opaque").error_name == "Authorization:NotAuthorized"

    # refreshAccessToken with a real upstream access token: capped by its exp.
    at_exp = t["access_token_claims"]["exp"]
    rr = nominal(srv).refresh_access_token(authz.RefreshAccessTokenRequest(access_token=t["access_token"]))
    assert rr.user_uuid == user_uuid and rr.org_uuid == alpha
    assert rr.expires_at_seconds == min(at_exp, rr.expires_at_seconds) and abs(rr.expires_at_seconds - at_exp) <= 1
    srv.nominal(authn.AuthenticationServiceV2).get_my_profile(bearer(rr.access_token))

    # getUserOrgs.
    orgs = nominal(srv).get_user_orgs(authz.GetUserOrgsRequest(id_token=t["id_token"]))
    assert orgs.orgs == {alpha: "alpha"}

    # Parsable loginWithIdp over Thrift: the same account, a 30-day session.
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, srv.auth_url, protocol=protocol, idp_token=t["access_token"]) as c:
        lr = c.loginWithIdp(at.LoginOptions())
        assert lr.currentUser.id == user_uuid and lr.currentUser.email == "ada@example.com"
        # The session ends at most max_session_beyond_upstream_secs (10 h) after the upstream
        # token's exp, not 30 days on.
        cap = at_exp - int(time.time()) + 36000
        assert alpha in lr.teamIdToTeamRole and cap - 60 <= lr.periods.expiry <= cap + 5
        lt = c.loginWithIdpAndTeam(alpha, at.LoginOptions())
        assert list(lt.teamIdToTeamRole) == [alpha]
        sel = c.loginWithIdpAndTeamSelect(at.LoginOptions())
        assert sel.loginResult is not None and sel.teamInfo is None
        # loginWithSSO (the okta provider) with the same upstream token.
        lr2 = c.loginWithSSO(at.SSORequest(provider=at.SSOProvider.OKTA, token=t["access_token"]))
        assert lr2.currentUser.id == user_uuid
        # startLogin: the provider's answer for its domain, known or unknown address alike.
        known = c.startLogin("ada@example.com")
        unknown = c.startLogin("nobody-here@example.com")
        assert known.isIdpAuth and known.idpAuth.idpAlias == "corp" and known.idpAuth.issuer == prov.issuer
        assert known.idpAuth.authorizationEndpoint == prov.discovery()["authorization_endpoint"]
        assert known.idpAuth.endSessionEndpoint == prov.discovery()["end_session_endpoint"]
        # Browser SSO is not configured for this provider: no webSSO (test_browser_sso.py).
        assert not known.isSSO and known.webSSO is None
        assert known == unknown
        other = c.startLogin("someone@elsewhere.org")
        assert other.passwordAuth is not None and not other.isIdpAuth
    # The Parsable token works on Nominal (one token model).
    srv.nominal(authn.AuthenticationServiceV2).get_my_profile(bearer(lr.authToken))

    # JSON envelope too; missing Idp-Authorization → 401.
    assert idp_ok(srv, "loginWithIdp", t["access_token"])["currentUser"]["id"] == user_uuid
    v = parsable_call(srv.auth_url, "loginWithIdp", {})
    assert v["result"]["err"]["errorCode"] == 401


def test_jit_off_and_allow_list(server_factory, oidc_provider):
    prov = oidc_provider
    # JIT off: a genuine identity without an account.
    srv = start(server_factory, provider_toml(prov, "corp"))
    t = prov.tokens("sub-nobody", email="nobody@example.com")
    assert gat_error(srv, t["id_token"]).error_name == "Authorization:NoMembership"
    assert refresh_error(srv, t["access_token"]).error_name == "Authorization:NoMembership"
    assert idp_err(srv, "loginWithIdp", t["access_token"])["errorCode"] == 401
    assert conjure_error(lambda: nominal(srv).get_user_orgs(
        authz.GetUserOrgsRequest(id_token=t["id_token"]))).error_name == "Authorization:NotAuthorized"
    srv.stop()

    # JIT on, but the allow-list denies the address's domain.
    srv = start(server_factory, provider_toml(prov, "corp", jit_provisioning=True, jit_orgs=["alpha"]))
    t = prov.tokens("sub-out", email="outsider@elsewhere.org")
    assert gat_error(srv, t["id_token"]).error_name == "Authorization:NoMembership"
    assert idp_err(srv, "loginWithIdp", t["access_token"])["errorCode"] == 401
    # An allowed address is provisioned.
    t = prov.tokens("sub-in", email="insider@example.com")
    assert get_access_token(srv, t["id_token"]).access_token
    # No email at all → MissingClaims (Nominal), 401 (Parsable).
    t = prov.tokens("sub-noemail")
    e = gat_error(srv, t["id_token"])
    assert e.error_name == "Authorization:MissingClaims" and json.loads(e.parameters["missingClaims"]) == ["email"]
    assert refresh_error(srv, t["access_token"]).error_name == "Authorization:MissingClaims"
    assert idp_err(srv, "loginWithIdp", t["access_token"])["errorCode"] == 401


def test_multi_org_user(server_factory, oidc_provider, thrift_stubs):
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", jit_provisioning=True, jit_orgs=["alpha", "beta"]),
                orgs=("alpha", "beta"))
    alpha, beta = org_id(srv, "alpha"), org_id(srv, "beta")
    t = prov.tokens("sub-multi", email="multi@example.com")

    # Two member orgs and no RID: NoMembership (the user is provisioned all the same).
    assert gat_error(srv, t["id_token"]).error_name == "Authorization:NoMembership"
    assert refresh_error(srv, t["access_token"]).error_name == "Authorization:NoMembership"
    orgs = nominal(srv).get_user_orgs(authz.GetUserOrgsRequest(id_token=t["id_token"]))
    assert orgs.orgs == {alpha: "alpha", beta: "beta"}
    # orgRid picks the org.
    assert get_access_token(srv, t["id_token"], org_rid=org_rid(beta)).org_uuid == beta
    assert nominal(srv).refresh_access_token(authz.RefreshAccessTokenRequest(
        access_token=t["access_token"], org_rid=org_rid(alpha))).org_uuid == alpha
    # workspaceRid: needs access to the workspace; its org is chosen.
    ws = srv.cli("workspace", "create", "--org", "alpha", "one")
    wid = str(ws["id"] if "id" in ws else ws["workspace"]["id"])
    ws_rid = f"ri.security.local.workspace.{wid}"
    assert gat_error(srv, t["id_token"], workspace_rid=ws_rid).error_name == "Authorization:NoMembership"
    srv.cli("workspace", "grant", "alpha/one", "--user", "multi@example.com")
    assert get_access_token(srv, t["id_token"], workspace_rid=ws_rid).org_uuid == alpha
    e = gat_error(srv, t["id_token"], workspace_rid=f"ri.security.local.workspace.{uuid.uuid4()}")
    assert e.error_name == "Authorization:WorkspaceNotFound"
    assert gat_error(srv, t["id_token"], workspace_rid=ws_rid, org_rid=org_rid(beta)).error_name == \
        "Default:InvalidArgument"

    # Parsable: team select lists both teams and issues no token; then a team token.
    sel = idp_ok(srv, "loginWithIdpAndTeamSelect", t["access_token"])
    assert "loginResult" not in sel
    assert sorted(x["teamId"] for x in sel["teamInfo"]) == sorted([alpha, beta])
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", idp_token=t["access_token"]) as c:
        sel = c.loginWithIdpAndTeamSelect(at.LoginOptions())
        assert sel.loginResult is None and {x.name for x in sel.teamInfo} == {"alpha", "beta"}
        lt = c.loginWithIdpAndTeam(beta, at.LoginOptions())
        assert list(lt.teamIdToTeamRole) == [beta]
        SystemException = thrift_stubs.common.ttypes.SystemException
        gamma = str(srv.cli("org", "create", "gamma")["id"])
        with pytest.raises(SystemException) as ei:
            c.loginWithIdpAndTeam(gamma, at.LoginOptions())
        assert ei.value.errorCode == 476
        with pytest.raises(SystemException) as ei:
            c.loginWithIdpAndTeam(str(uuid.uuid4()), at.LoginOptions())
        assert ei.value.errorCode == 404
        # A session login still works (the default team).
        assert c.loginWithIdp(at.LoginOptions()).authToken


def test_start_login_reveals_nothing_about_accounts(server_factory, oidc_provider, thrift_stubs):
    """startLogin is unauthenticated: for an IdP domain, a user on two teams, one on a single team
    and an unknown address get the same answer (`isMultiTeam` is always true, this project's
    choice: team select serves every user)."""
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", jit_provisioning=True, jit_orgs=["alpha", "beta"],
                                              email_domains=["example.com"]), orgs=("alpha", "beta"))
    t = prov.tokens("sub-two", email="two@example.com")
    gat_error(srv, t["id_token"])   # provisions the user into both orgs (then NoMembership: two orgs)
    srv.cli("user", "create", "--email", "one@example.com", "--validated")
    srv.cli("member", "add", "--org", "alpha", "--user", "one@example.com", "--roles", "AUTHOR")
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact") as c:
        two = c.startLogin("two@example.com")
        one = c.startLogin("one@example.com")
        nobody = c.startLogin("nobody-at-all@example.com")
        assert two.isIdpAuth and two.idpAuth.isMultiTeam is True
        assert two == one == nobody
        # Team select then serves both kinds of user.
        c.set_headers(idp_token=prov.tokens("sub-two", email="two@example.com")["access_token"])
        sel = c.loginWithIdpAndTeamSelect(at.LoginOptions())
        assert sel.loginResult is None and len(sel.teamInfo) == 2


def test_key_rotation_without_restart(server_factory, oidc_provider):
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", jit_provisioning=True, jit_orgs=["alpha"]))
    t = prov.tokens("sub-rot", email="rot@example.com")
    first = get_access_token(srv, t["id_token"])
    assert idp_ok(srv, "loginWithIdp", t["access_token"])["authToken"]
    old_kid = json.loads(unb64(t["id_token"].split(".")[0]))["kid"]
    rotated = prov.rotate_keys(keep_old=False)
    assert rotated["kid"] != old_kid
    t2 = prov.tokens("sub-rot", email="rot@example.com")
    assert json.loads(unb64(t2["id_token"].split(".")[0]))["kid"] == rotated["kid"]
    assert get_access_token(srv, t2["id_token"]).user_uuid == first.user_uuid
    assert idp_ok(srv, "loginWithIdp", t2["access_token"])["currentUser"]["id"] == first.user_uuid
    assert nominal(srv).refresh_access_token(
        authz.RefreshAccessTokenRequest(access_token=t2["access_token"])).user_uuid == first.user_uuid


def test_provider_down_fails_fast(server_factory, oidc_provider_factory):
    prov = oidc_provider_factory()
    srv = start(server_factory, provider_toml(prov, "corp", jit_provisioning=True, jit_orgs=["alpha"]))
    t = prov.tokens("sub-down", email="down@example.com")
    prov.stop()
    t0 = time.monotonic()
    assert gat_error(srv, t["id_token"]).error_name == "Default:Internal"
    assert refresh_error(srv, t["access_token"]).error_name == "Default:Internal"
    e = idp_err(srv, "loginWithIdp", t["access_token"])
    assert e["errorCode"] == 500 and e["message"] == "Internal server error"
    assert time.monotonic() - t0 < 10, "a provider that is down must not hang the calls"
    assert srv.get("/readyz").status_code == 200


def test_hung_provider_times_out(server_factory, oidc_provider):
    """A provider that accepts connections and never answers: the configured timeout ends the call."""
    import socket
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # never accepted: the kernel completes handshakes, nobody ever answers
    try:
        issuer = f"http://127.0.0.1:{hung.getsockname()[1]}"
        table = (f'[[federation.providers]]\nalias = "hung"\nissuer = "{issuer}"\n'
                 f'client_ids = ["{oidc_provider.client_id}"]\nrequest_timeout_ms = 1500\n')
        srv = start(server_factory, table)
        token = oidc_provider.sign({"iss": issuer, "sub": "s", "email": "h@example.com"})
        t0 = time.monotonic()
        assert gat_error(srv, token).error_name == "Default:Internal"
        assert idp_err(srv, "loginWithIdp", token)["errorCode"] == 500
        assert time.monotonic() - t0 < 8
    finally:
        hung.close()


# --- forged tokens -----------------------------------------------------------------------------------

def forged_tokens(prov) -> dict[str, tuple[str, str, int]]:
    """name → (token, Nominal getAccessToken errorName, Parsable errorCode)."""
    good = prov.tokens("sub-victim", email="victim@example.com")
    claims = {"sub": "sub-victim", "email": "victim@example.com", "email_verified": True}
    header, payload, sig = good["id_token"].split(".")
    body = json.loads(unb64(payload))
    body["sub"], body["email"] = "sub-attacker", "attacker@example.com"
    tampered = f"{header}.{b64(json.dumps(body).encode())}.{sig}"
    at_header, at_payload, at_sig = good["access_token"].split(".")
    at_body = json.loads(unb64(at_payload))
    at_body["sub"] = "sub-attacker"
    tampered_at = f"{at_header}.{b64(json.dumps(at_body).encode())}.{at_sig}"
    now = int(time.time())
    unsigned = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + b64(json.dumps(
        {**claims, "iss": prov.issuer, "aud": prov.client_id, "iat": now, "exp": now + 600}).encode()) + "."
    # HS256 "signed" with the provider's public key (PEM) as the HMAC secret.
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import RSAAlgorithm
    jwk = prov.jwks()["keys"][0]
    pem = RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}).encode())
    hs_body = b64(json.dumps({**claims, "iss": prov.issuer, "aud": prov.client_id, "iat": now,
                              "exp": now + 600}).encode())
    hs_sig = b64(hmac.new(pem, f"{hs_head}.{hs_body}".encode(), hashlib.sha256).digest())
    return {
        "wrong issuer": (prov.sign({**claims, "iss": "http://evil.example"}),
                         "Authorization:InvalidJwtIssuer", 497),
        "wrong audience": (prov.sign({**claims, "aud": "someone-else"}), "Authorization:InvalidJwtAudience", 497),
        "expired": (prov.sign(claims, ttl=-3600), "Authorization:InvalidJwtExpired", 498),
        "alg none": (unsigned, "Authorization:NotAuthorized", 497),
        "HS256 with the public key": (f"{hs_head}.{hs_body}.{hs_sig}", "Authorization:NotAuthorized", 497),
        "foreign key": (prov.sign(claims, key="foreign"), "Authorization:NotAuthorized", 497),
        "tampered ID token": (tampered, "Authorization:NotAuthorized", 497),
        "tampered access token": (tampered_at, "Authorization:NotAuthorized", 497),
        "not a JWT": ("not-a-jwt", "Authorization:InvalidJwtFormat", 497),
    }


def test_forged_tokens_refused_on_both_apis(server_factory, oidc_provider, thrift_stubs):
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", kind="okta", jit_provisioning=True,
                                              jit_orgs=["alpha"]))
    at = thrift_stubs.authentication.ttypes
    SystemException = thrift_stubs.common.ttypes.SystemException
    for name, (token, nominal_name, parsable_code) in forged_tokens(prov).items():
        e = gat_error(srv, token)
        assert e.error_name == nominal_name, f"{name}: {e.error_name}"
        if nominal_name == "Authorization:InvalidJwtIssuer":
            assert e.parameters["issuer"] == "http://evil.example"
        if nominal_name == "Authorization:InvalidJwtAudience":
            assert e.parameters["audience"] == "someone-else"
        assert refresh_error(srv, token).error_name == "Authorization:NotAuthorized", name
        assert conjure_error(lambda: nominal(srv).get_user_orgs(authz.GetUserOrgsRequest(
            id_token=token))).error_name == "Authorization:NotAuthorized", name
        for method in ("loginWithIdp", "loginWithIdpAndTeamSelect"):
            assert idp_err(srv, method, token)["errorCode"] == parsable_code, f"{name} {method}"
        with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", idp_token=token) as c:
            with pytest.raises(SystemException) as ei:
                c.loginWithIdp(at.LoginOptions())
            assert ei.value.errorCode == parsable_code, name
            with pytest.raises(SystemException) as ei:
                c.loginWithSSO(at.SSORequest(provider=at.SSOProvider.OKTA, token=token))
            assert ei.value.errorCode == parsable_code, f"{name} loginWithSSO"
    # None of them provisioned anyone.
    users = srv.cli("user", "list")
    emails = {u["email"] for u in (users if isinstance(users, list) else users["users"])}
    assert not emails & {"victim@example.com", "attacker@example.com"}


# --- cross-provider takeover, end session, proxy login --------------------------------------------

def test_cross_provider_takeover_refused(server_factory, oidc_provider_factory):
    a, b = oidc_provider_factory(), oidc_provider_factory()
    srv = start(server_factory,
                provider_toml(a, "prov-a", jit_provisioning=True, jit_orgs=["alpha"]),
                provider_toml(b, "prov-b", jit_provisioning=True, jit_orgs=["alpha"]))
    ta = a.tokens("sub-a", email="victim@example.com")
    victim = get_access_token(srv, ta["id_token"]).user_uuid
    tb = b.tokens("sub-b", email="victim@example.com", email_verified=True)
    assert gat_error(srv, tb["id_token"]).error_name == "Authorization:NoMembership"
    assert refresh_error(srv, tb["access_token"]).error_name == "Authorization:NoMembership"
    assert idp_err(srv, "loginWithIdp", tb["access_token"])["errorCode"] == 401
    # Provider A still reaches its user.
    assert get_access_token(srv, ta["id_token"]).user_uuid == victim
    assert idp_ok(srv, "loginWithIdp", ta["access_token"])["currentUser"]["id"] == victim


def test_end_session_endpoint(server_factory, oidc_provider):
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp"))
    # The admin CLI shows the providers of the config file.
    assert [(p["alias"], p["issuer"]) for p in srv.cli("idp", "list")] == [("corp", prov.issuer)]
    shown = srv.cli("idp", "show", "corp")
    assert shown["client_ids"] == [prov.client_id] and shown["leeway_secs"] == 30
    t = prov.tokens("sub-es", email="es@example.com", id_token_ttl=1)
    want = prov.discovery()["end_session_endpoint"]
    req = authz.GetIdpEndSessionEndpointRequest
    assert nominal(srv).get_idp_end_session_endpoint(req(id_token=t["id_token"])).end_session_endpoint == want
    time.sleep(2)  # exp is ignored
    assert nominal(srv).get_idp_end_session_endpoint(req(id_token=t["id_token"])).end_session_endpoint == want
    e = conjure_error(lambda: nominal(srv).get_idp_end_session_endpoint(req(id_token="garbage")))
    assert e.error_name == "Authorization:InvalidJwtFormat"
    e = conjure_error(lambda: nominal(srv).get_idp_end_session_endpoint(req(
        id_token=prov.sign({"sub": "x"}, key="foreign"))))
    assert e.error_name == "Authorization:NotAuthorized"


def test_proxy_login_through_idp(server_factory, oidc_provider):
    prov = oidc_provider
    admin_domain = srv_domain = "portcullis.test"
    srv = start(server_factory, provider_toml(prov, "corp", link_verified_email=True,
                                              email_domains=["example.com", admin_domain],
                                              jit_provisioning=True, jit_orgs=["alpha"]))
    srv.cli("user", "create", "--email", "target@example.com", "--validated")
    srv.cli("member", "add", "--org", "alpha", "--user", "target@example.com", "--roles", "AUTHOR")
    srv.cli("user", "create", "--email", "plain@example.com", "--validated")
    srv.cli("member", "add", "--org", "alpha", "--user", "plain@example.com", "--roles", "AUTHOR")
    # The bootstrap super-admin is never linked by email, even verified and in a served domain.
    assert srv.admin_email.endswith("@" + srv_domain)
    ta = prov.tokens("sub-admin", email=srv.admin_email, email_verified=True)
    assert idp_err(srv, "loginWithIdp", ta["access_token"])["errorCode"] == 401
    assert gat_error(srv, ta["id_token"]).error_name == "Authorization:NoMembership"
    # A federated account an operator made super-admin can proxy.
    tb = prov.tokens("sub-boss", email="boss@example.com")
    assert idp_ok(srv, "loginWithIdp", tb["access_token"])["currentUser"]["email"] == "boss@example.com"
    srv.cli("user", "update", "boss@example.com", "--super-admin", "true")
    lr = idp_ok(srv, "loginWithIdp", tb["access_token"], {"options": {"proxiedUserEmail": "target@example.com"}})
    assert lr["currentUser"]["email"] == "target@example.com"
    assert lr.get("proxyUserEmail")
    assert lr["periods"]["expiry"] <= tb["expires_in"] + 36000 + 5
    # A user who is not a super-admin cannot proxy.
    tp = prov.tokens("sub-plain", email="plain@example.com")
    e = idp_err(srv, "loginWithIdp", tp["access_token"], {"options": {"proxiedUserEmail": "target@example.com"}})
    assert e["errorCode"] == 476


# --- linking limits, opaque tokens, name fallback ----------------------------------------------------

def test_linking_only_within_email_domains(server_factory, oidc_provider):
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", link_verified_email=True,
                                              email_domains=["example.com"]))
    srv.cli("user", "create", "--email", "inside@example.com", "--validated")
    srv.cli("member", "add", "--org", "alpha", "--user", "inside@example.com", "--roles", "AUTHOR")
    srv.cli("user", "create", "--email", "outside@partner.org", "--validated")
    srv.cli("member", "add", "--org", "alpha", "--user", "outside@partner.org", "--roles", "AUTHOR")
    out = prov.tokens("sub-outside", email="outside@partner.org", email_verified=True)
    assert gat_error(srv, out["id_token"]).error_name == "Authorization:NoMembership"
    assert idp_err(srv, "loginWithIdp", out["access_token"])["errorCode"] == 401
    inside = prov.tokens("sub-inside", email="inside@example.com", email_verified=True)
    assert idp_ok(srv, "loginWithIdp", inside["access_token"])["currentUser"]["email"] == "inside@example.com"


def test_config_refuses_unsafe_provider_policies(server_factory, oidc_provider):
    """link_verified_email without email_domains, an org claim without allowed_orgs, the userinfo
    opt-in for JWT access tokens: refused at start."""
    from harness.server import ServerStartError
    cases = {
        "link_verified_email needs email_domains": provider_toml(oidc_provider, "corp", link_verified_email=True),
        "claims.org needs a non-empty allowed_orgs": provider_toml(oidc_provider, "corp")
        + '[federation.providers.claims]\norg = "groups"\n',
        "opaque_tokens_via_userinfo needs access_token_format": provider_toml(
            oidc_provider, "corp", opaque_tokens_via_userinfo=True),
    }
    for message, table in cases.items():
        srv = server_factory(config=table, start=False)
        with pytest.raises(ServerStartError) as ei:
            srv.start()
        assert message in str(ei.value), str(ei.value)[-2000:]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_opaque_access_tokens_introspected(server_factory, oidc_provider, thrift_stubs, protocol):
    """The one opaque-format provider: its opaque tokens work on refreshAccessToken and loginWithIdp
    unnamed, checked by RFC 7662 introspection (client id, token type, exp)."""
    prov = oidc_provider
    srv = start(server_factory, provider_toml(prov, "corp", access_token_format="opaque",
                                              introspection_client_secret=prov.client_secret,
                                              max_session_beyond_upstream_secs=600,
                                              jit_provisioning=True, jit_orgs=["alpha"]))
    alpha = org_id(srv, "alpha")
    t = prov.tokens("sub-opaque", email="opaque.user@example.com", access_token_format="opaque",
                    access_token_ttl=900)
    assert "." not in t["access_token"]
    exp = int(time.time()) + 900

    rr = nominal(srv).refresh_access_token(authz.RefreshAccessTokenRequest(access_token=t["access_token"]))
    assert rr.org_uuid == alpha and abs(rr.expires_at_seconds - exp) <= 5
    me = srv.nominal(authn.AuthenticationServiceV2).get_my_profile(bearer(rr.access_token))
    # No name claim: the display name is the email's local part (NOMINAL §8).
    assert me.email == "opaque.user@example.com" and me.display_name == "opaque.user"

    at = thrift_stubs.authentication.ttypes
    SystemException = thrift_stubs.common.ttypes.SystemException
    with ThriftClient(thrift_stubs, srv.auth_url, protocol=protocol, idp_token=t["access_token"]) as c:
        lr = c.loginWithIdp(at.LoginOptions())
        assert lr.currentUser.id == rr.user_uuid
        # Session: upstream exp + 600 s at most.
        assert 900 + 600 - 60 <= lr.periods.expiry <= 900 + 600 + 5

    # Refused: a token minted for another client, a refresh token, a made-up token.
    other = prov.tokens("sub-opaque", email="opaque.user@example.com", access_token_format="opaque",
                        client="other")
    for token in (other["access_token"], t["refresh_token"], "made-up-opaque-token"):
        assert refresh_error(srv, token).error_name == "Authorization:NotAuthorized"
        assert idp_err(srv, "loginWithIdp", token)["errorCode"] == 497
        with ThriftClient(thrift_stubs, srv.auth_url, protocol=protocol, idp_token=token) as c:
            with pytest.raises(SystemException) as ei:
                c.loginWithIdp(at.LoginOptions())
            assert ei.value.errorCode == 497
    # The introspection secret is not shown by the admin CLI.
    assert prov.client_secret not in json.dumps(srv.cli("idp", "show", "corp"))


def test_opaque_access_tokens_without_introspection(server_factory, oidc_provider, thrift_stubs):
    """An opaque-format provider without introspection credentials: its opaque tokens are refused
    (Nominal NotAuthorized, Parsable 497) unless it sets opaque_tokens_via_userinfo, which then also
    accepts a token minted for another client of the provider (the documented risk)."""
    prov = oidc_provider
    ours = prov.tokens("sub-plain", email="plain.user@example.com", access_token_format="opaque")
    other = prov.tokens("sub-plain", email="plain.user@example.com", access_token_format="opaque",
                        client="other")
    table = dict(access_token_format="opaque", jit_provisioning=True, jit_orgs=["alpha"])
    at = thrift_stubs.authentication.ttypes
    SystemException = thrift_stubs.common.ttypes.SystemException

    srv = start(server_factory, provider_toml(prov, "corp", **table))
    for token in (ours["access_token"], other["access_token"]):
        assert refresh_error(srv, token).error_name == "Authorization:NotAuthorized"
        assert idp_err(srv, "loginWithIdp", token)["errorCode"] == 497
        with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", idp_token=token) as c:
            with pytest.raises(SystemException) as ei:
                c.loginWithIdp(at.LoginOptions())
            assert ei.value.errorCode == 497
    # Refused before provisioning: no account was created.
    users = srv.cli("user", "list")
    emails = {u["email"] for u in (users if isinstance(users, list) else users["users"])}
    assert "plain.user@example.com" not in emails

    opted = start(server_factory, provider_toml(prov, "corp", opaque_tokens_via_userinfo=True, **table))
    rr = nominal(opted).refresh_access_token(authz.RefreshAccessTokenRequest(access_token=ours["access_token"]))
    assert rr.org_uuid == org_id(opted, "alpha")
    lr = idp_ok(opted, "loginWithIdp", other["access_token"])
    assert lr["currentUser"]["email"] == "plain.user@example.com"
