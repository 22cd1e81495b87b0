#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (docs/fuzzing.md).

Seeds come from the project's own fixtures: Thrift calls written by Apache's Python library
(stubs generated from tests/compat/idl/parsable), Conjure bodies sampled from the IR like
crates/surfaces/nominal/tests/ir_agreement.rs does, the example TOML, CSRs made with openssl,
access tokens signed with the fuzz ring's fixed key, and the requests and upstream answers the
tests send. Run it with the tests/compat venv (thrift, cryptography):

    tests/compat/.venv/bin/python fuzz/make_seeds.py
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "fuzz" / "corpus"


def put(target: str, name: str, data: bytes | str, selector: int | None = None) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    if selector is not None:
        data = bytes([selector]) + data
    (d / name).write_bytes(data)


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --- Thrift: compact, TJSON and Parsable JSON calls ------------------------------------------------
def thrift_seeds() -> None:
    out = Path(tempfile.mkdtemp(prefix="fuzz-seeds-py-"))
    idl = REPO / "tests" / "compat" / "idl" / "parsable"
    for f in sorted(idl.glob("*.thrift")):
        subprocess.run(["thrift", "--gen", "py", "-I", str(idl), "-out", str(out), str(f)], check=True)
    sys.path.insert(0, str(out))
    from thrift.protocol import TCompactProtocol, TJSONProtocol
    from thrift.Thrift import TMessageType
    from thrift.transport import TTransport
    from authentication import AuthenticationService as S
    from authentication.ttypes import LoginOptions, SSORequest

    opts = LoginOptions(certificateSigningRequest="-----BEGIN CERTIFICATE REQUEST-----")
    calls = {
        "login": S.login_args(email="ann@example.com", password="pw", options=opts),
        "loginWithSSO": S.loginWithSSO_args(request=SSORequest(provider=1, token="tok", parameter="p")),
        "loginWithTeamSelect": S.loginWithTeamSelect_args(email="a@b.c", password="pw"),
        "loginWithIdp": S.loginWithIdp_args(options=LoginOptions()),
        "loginWithIdpAndTeam": S.loginWithIdpAndTeam_args(teamId="t1", options=LoginOptions()),
        "loginWithIdpAndTeamSelect": S.loginWithIdpAndTeamSelect_args(options=LoginOptions()),
        "logout": S.logout_args(),
        "createTeamToken": S.createTeamToken_args(teamId="t1"),
        "loginWithToken": S.loginWithToken_args(authToken="tok"),
        "startLogin": S.startLogin_args(email="ann@example.com"),
        "refresh": S.refresh_args(),
        "getCurrentUser": S.getCurrentUser_args(),
    }
    for attr in dir(S):
        for name in ("createPersistentAuth", "revokePersistentAuth", "fetchPersistentAuthTokensMeta"):
            if attr == f"{name}_args" and name not in calls:
                calls[name] = getattr(S, attr)()
    for name, args in calls.items():
        for target, proto in (("thrift_compact", TCompactProtocol.TCompactProtocol),
                              ("thrift_tjson", TJSONProtocol.TJSONProtocol)):
            buf = TTransport.TMemoryBuffer()
            p = proto(buf)
            p.writeMessageBegin(name, TMessageType.CALL, 7)
            args.write(p)
            p.writeMessageEnd()
            put(target, name, buf.getvalue())
    pjson = {
        "login": {"email": "ann@example.com", "password": "pw",
                  "options": {"certificateSigningRequest": "csr"}},
        "loginWithSSO": {"request": {"provider": "OKTA", "token": "t"}},
        "loginWithTeamSelect": {"email": "a@b.c", "password": "pw"},
        "loginWithIdpAndTeam": {"teamId": "1", "options": {}},
        "logout": None,
        "createTeamToken": {"teamId": "12"},
        "loginWithToken": {"authToken": "tok"},
        "startLogin": {"email": "ann@example.com"},
        "createPersistentAuth": {"name": "ci"},
        "revokePersistentAuth": {"id": "3"},
        "fetchPersistentAuthTokensMeta": {},
    }
    for name, args in pjson.items():
        body = {"method": name} if args is None else {"method": name, "arguments": args}
        put("parsable_json", name, json.dumps(body))
    put("parsable_json", "unknown", '{"method":"nope","arguments":{}}')


# --- Conjure request bodies ---------------------------------------------------------------------
def conjure_seeds() -> None:
    ir = json.loads((REPO / "crates/surfaces/nominal/conjure/nominal-auth.conjure.json").read_text())
    types = {}
    for t in ir["types"]:
        kind = t["type"]
        types[t[kind]["typeName"]["name"]] = t

    def sample(ty, depth=0):
        k = ty["type"]
        if k == "primitive":
            return {"STRING": "s", "INTEGER": 7, "SAFELONG": 9007199254740991, "BOOLEAN": True,
                    "DATETIME": "2025-06-01T10:00:00.123Z",
                    "UUID": "0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b",
                    "RID": "ri.authn.local.user.0b6a3c2e"}[ty["primitive"]]
        if k == "optional":
            return sample(ty["optional"]["itemType"], depth)
        if k in ("list", "set"):
            return [] if depth > 3 else [sample(ty[k]["itemType"], depth + 1)]
        if k == "map":
            return {str(sample(ty["map"]["keyType"], depth)): sample(ty["map"]["valueType"], depth + 1)}
        if k == "reference":
            t = types[ty["reference"]["name"]]
            kind = t["type"]
            d = t[kind]
            if kind == "alias":
                return sample(d["alias"], depth)
            if kind == "enum":
                return d["values"][0]["value"]
            if kind == "object":
                return {f["fieldName"]: sample(f["type"], depth + 1) for f in d["fields"]}
            if kind == "union":
                v = d["union"][-1] if depth > 3 else d["union"][0]
                return {"type": v["fieldName"], v["fieldName"]: sample(v["type"], depth + 1)}
        raise ValueError(k)

    # The order of ENDPOINTS (services, then endpoints, as in the IR) picks the endpoint.
    i = 0
    for svc in ir["services"]:
        for e in svc["endpoints"]:
            body = next((a for a in e["args"] if a["paramType"]["type"] == "body"), None)
            if body is None:
                continue
            put("conjure_body", e["endpointName"], json.dumps(sample(body["type"])), selector=i)
            i += 1


# --- Access tokens ------------------------------------------------------------------------------
def token_seeds() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.from_private_bytes(bytes([0x42]) * 32)
    header = {"typ": "at+jwt", "alg": "EdDSA", "kid": "eddsa-fuzz"}
    claims = {"iss": "https://portcullis.fuzz", "aud": "portcullis",
              "sub": "0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b",
              "org": "1c7b4d3f-9e2a-4b8f-8a66-4d2e3f5a6b7c", "sid": "s1", "iat": 1700000000,
              "nbf": 1700000000, "exp": 4000000000, "jti": "j1", "amr": ["pwd"], "guest": False}
    oidc = dict(claims, aud="app", client_id="app", scope="openid profile")
    minted = dict(claims, akr="ri.authn.local.api-key.0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b",
                  act={"sub": "1c7b4d3f-9e2a-4b8f-8a66-4d2e3f5a6b7c"}, team=True)

    def jws(h, c):
        signing_input = f"{b64u(json.dumps(h).encode())}.{b64u(json.dumps(c).encode())}"
        return f"{signing_input}.{b64u(key.sign(signing_input.encode()))}"

    put("access_token", "api", jws(header, claims), selector=0)
    put("access_token", "oidc", jws(header, oidc), selector=2)
    put("access_token", "minted", jws(header, minted), selector=0)
    put("access_token", "none-alg", jws(dict(header, alg="none"), claims), selector=0)
    put("access_token", "claims-api", json.dumps(claims), selector=1)
    put("access_token", "claims-oidc", json.dumps(oidc), selector=3)
    put("access_token", "claims-minted", json.dumps(minted), selector=1)
    put("access_token", "header-and-claims",
        json.dumps(dict(header, alg="HS256")).encode() + b"\0" + json.dumps(claims).encode(), selector=1)


# --- CSRs ---------------------------------------------------------------------------------------
def csr_seeds() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-seeds-csr-"))
    keys = {
        "ed25519": ["-algorithm", "ed25519"],
        "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "rsa1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    }
    for name, opts in keys.items():
        k = tmp / f"{name}.key"
        subprocess.run(["openssl", "genpkey", *opts, "-out", str(k)], check=True, capture_output=True)
        pem = subprocess.run(["openssl", "req", "-new", "-key", str(k), "-subj", "/CN=client",
                              "-addext", "subjectAltName=DNS:evil.example"],
                             check=True, capture_output=True).stdout
        der = subprocess.run(["openssl", "req", "-in", "/dev/stdin", "-outform", "DER"], input=pem,
                             check=True, capture_output=True).stdout
        put("csr", f"{name}.pem", pem, selector=0)
        put("csr", f"{name}.der", der, selector=1)


# --- Configuration ------------------------------------------------------------------------------
def config_seeds() -> None:
    put("config_toml", "example", (REPO / "portcullis.example.toml").read_bytes())
    put("config_toml", "empty", "")
    put("config_toml", "server", '[server]\nlisten = "0.0.0.0:8080"\ndatabase_url = '
        '"postgres://app:s3cret@db:5432/portcullis?sslmode=require"\n'
        'trusted_proxies = ["10.0.0.0/8", "::1"]\nproxy_header = "forwarded"\n')
    put("config_toml", "federation", '[[federation.providers]]\nalias = "okta"\n'
        'issuer = "https://idp.example"\nclient_ids = ["app"]\n'
        '[federation.providers.claims]\ngroups = "groups"\n')


# --- Browser SSO callback, OpenID requests, edge headers -----------------------------------------
def request_seeds() -> None:
    state = "Zx3" * 14 + "A"
    put("sso_callback", "ok", f"code=abc&state={state}\nportcullis-sso={state}; other=1")
    put("sso_callback", "error", f"error=access_denied&state={state}\nportcullis-sso=a\nportcullis-sso=b")
    put("sso_callback", "encoded", "code=a%20b+c&state=%E2%9C%93\n__Host-portcullis-sso=x")
    challenge = b64u(hashlib.sha256(b"v" * 43).digest())
    q = ("response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
         f"&scope=openid+profile+offline_access&state=xyz&nonce=n&code_challenge={challenge}"
         "&code_challenge_method=S256&prompt=login+consent&max_age=60&login_hint=ann%40example.com")
    put("oidc_request", "authorize", q, selector=0)
    put("oidc_request", "authorize-loopback",
        q.replace("https%3A%2F%2Fapp.example%2Fcb", "http%3A%2F%2F127.0.0.1%3A5000%2Fcb"), selector=0)
    put("oidc_request", "authorize-bad-scope", q.replace("openid+", "admin+"), selector=0)
    basic = base64.b64encode(b"my+app:p%3Aw%2Bd").decode()
    put("oidc_request", "token-basic",
        f"Basic {basic}\ngrant_type=authorization_code&code=c&code_verifier={'v' * 43}", selector=1)
    put("oidc_request", "token-post",
        "\ngrant_type=refresh_token&refresh_token=r&client_id=app&client_secret=s", selector=1)
    put("oidc_request", "token-assertion",
        "\nclient_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        "&client_assertion=a.b.c&client_id=app", selector=1)
    put("oidc_request", "seal", "AAAA" * 40, selector=2)
    for name, v in {"bearer": "Bearer eyJhbGciOiJFZERTQSJ9.e30.sig", "token": "token abc\tdef",
                    "tabs": "\tBEARER \t x ", "basic": "Basic Zm9vOmJhcg==",
                    "twice": "Bearer a\nBearer b"}.items():
        put("edge_authorization", name, v)
    put("edge_forwarded", "xff", "203.0.113.1, 10.0.0.2\n198.51.100.7", selector=0)
    put("edge_forwarded", "forwarded",
        'ffor=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"\nffor=unknown',
        selector=0x80)
    put("edge_forwarded", "v6-peer", "2001:db8::9\n[::1]:80\n::ffff:10.1.1.1", selector=2)
    put("edge_forwarded", "cidr", "c10.0.0.0/8\nc::ffff:1.2.3.4/120\nc2001:db8::/32\nc1.2.3.4", selector=1)


# --- Upstream provider answers ------------------------------------------------------------------
def upstream_seeds() -> None:
    iss = "https://idp.example"
    put("upstream_answers", "discovery", json.dumps({
        "issuer": iss, "jwks_uri": f"{iss}/jwks", "authorization_endpoint": f"{iss}/auth",
        "token_endpoint": f"{iss}/token", "userinfo_endpoint": f"{iss}/me",
        "end_session_endpoint": f"{iss}/logout", "introspection_endpoint": f"{iss}/introspect"}),
        selector=0)
    put("upstream_answers", "jwks", json.dumps({"keys": [
        {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "e": "AQAB",
         "n": b64u(bytes([0xc1]) + bytes(range(255)))},
        {"kty": "EC", "kid": "e1", "crv": "P-256",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
         "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty": "OKP", "kid": "o1", "crv": "Ed25519",
         "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "e": "AQAB", "n": "AQAB"}]}), selector=1)
    now = 1_800_000_000
    claims = {"iss": iss, "sub": "u-1", "aud": "app", "exp": now + 300, "iat": now - 5,
              "nonce": "n", "email": " Ann@Example.COM ", "email_verified": True, "name": "Ann",
              "groups": ["eng", "ops"], "orgs": "acme,beta", "roles": ["ADMIN"]}
    jwt = f"{b64u(json.dumps({'alg': 'RS256', 'kid': 'r1'}).encode())}.{b64u(json.dumps(claims).encode())}.sig"
    put("upstream_answers", "token", json.dumps({"id_token": jwt, "access_token": "at",
                                                  "token_type": "Bearer", "expires_in": 300}),
        selector=2)
    put("upstream_answers", "introspection", json.dumps({
        "active": True, "token_type": "Bearer", "iss": iss, "client_id": "app", "sub": "u-1",
        "exp": now + 60, "nbf": now - 60, "email": "ann@example.com", "groups": "eng ops"}),
        selector=3)
    for use in range(3):
        put("upstream_answers", f"jwt-{use}", bytes([use]) + jwt.encode(), selector=4)
    multi = dict(claims, aud=["app", "x"], azp="app", exp=now + 1e3)
    es_header = b64u(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    jwt2 = f"{es_header}.{b64u(json.dumps(multi).encode())}."
    put("upstream_answers", "jwt-multi-aud", bytes([0]) + jwt2.encode(), selector=4)


def main() -> None:
    thrift_seeds()
    conjure_seeds()
    token_seeds()
    csr_seeds()
    config_seeds()
    request_seeds()
    upstream_seeds()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()
