"""The OpenAPI contract (docs/design/openapi.md), checked against a running server: the
document the server serves at /openapi.json drives PyPI `schemathesis`, which generates requests
for every documented operation (boundary and negative values, then random ones) and checks every
answer: no server error, a documented status, the documented content type, the documented
schema and headers. Then the server's log must show no panic and no 5xx.

Authenticated routes run with real credentials seeded first: an org admin's session token (the
`bearer` scheme; what ends sessions or accounts runs as another org's admin), an OpenID client's
id and secret (`clientBasic`), and, for userinfo, an access token of that client from a real code
flow. Bounded: a fixed seed, a few examples per operation,
and a time budget (PORTCULLIS_CONTRACT_SECONDS, default 45 s) for the generation phases.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import requests

from harness.oidc_clients import USER_PASSWORD, sign_in_without_browser

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
ADMIN = "contract-admin@example.com"
OTHER = "contract-other@example.com"
REDIRECT = "http://127.0.0.1/contract/callback"
# Every check that reads answers. Left out, with the reason:
# - negative_data_rejection / positive_data_acceptance: they assert that a request the schema
#   calls invalid is refused with 4xx (and a valid one accepted). The schemas describe answers
#   precisely but requests only loosely where the core validates further (a setting's key
#   grammar, a client's redirect URIs, a RID that names nothing), so "valid by the schema" does
#   not mean "acceptable"; every refusal is still checked for its status, type and schema.
# - use_after_free, ensure_resource_availability, ignored_auth, object_level_authorization and
#   the stateful phase: they need links between operations, which the document does not declare.
# - missing_required_header, unsupported_method, allow_header_conformance: Portcullis answers
#   an unrouted method with axum's bare 405 (no `Allow` header), as NOMINAL.md allows.
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    # More for an exploratory run (e.g. positive_data_acceptance), comma-separated.
    *filter(None, os.environ.get("PORTCULLIS_CONTRACT_EXTRA_CHECKS", "").split(",")),
])
CONFIG = """\
headers = { Authorization = "Bearer ${PORTCULLIS_CONTRACT_TOKEN}" }

# The org-admin routes act in the admin's own org (another org's id is a refusal, seen above).
[parameters]
"path.orgId" = "${PORTCULLIS_CONTRACT_ORG_ID}"

# The client-authenticated endpoints: the seeded client's id and secret (client_secret_basic).
[[operations]]
include-path-regex = "^/oauth2/(token|introspect|revoke)$"
headers = { Authorization = "Basic ${PORTCULLIS_CONTRACT_CLIENT_BASIC}" }

# The userinfo endpoints take the provider's own access tokens, not a session token.
[[operations]]
include-path-regex = "^/oauth2/userinfo$"
headers = { Authorization = "Bearer ${PORTCULLIS_CONTRACT_OIDC_TOKEN}" }

# What ends sessions or accounts runs as another org's admin: schemathesis reuses ids it read in
# earlier answers (the admin's own session id, her user RID), and ending her own session or
# account would leave every later request unauthenticated. Another admin's request for them is
# the not-found case, which is checked too.
[[operations]]
include-operation-id-regex = "^(endMySession|endOtherSessions|revokeMyConsent|deactivateUser|reactivateUser)$"
headers = { Authorization = "Bearer ${PORTCULLIS_CONTRACT_OTHER_TOKEN}" }
"""
# A 2-core machine: the whole test stays near a minute and a half.
SERVER_CONFIG = """\
[core.rate_limit]
per_ip_per_sec = 1000
burst = 1000
"""


def start_server(server_factory):
    # The suite's server binary (the debug build scripts/test-all makes): a release build would
    # add minutes to CI for no extra coverage. PORTCULLIS_RELEASE_BIN runs the contract against
    # a release server instead, with more examples inside the same time budget.
    srv = server_factory(config=SERVER_CONFIG, start=False, env={"PORTCULLIS_LOG_FORMAT": "json"})
    explicit = os.environ.get("PORTCULLIS_RELEASE_BIN")
    if explicit:
        srv.binary = Path(explicit)
    srv.env["PORTCULLIS_PUBLIC_URL"] = srv.base_url
    return srv.start()


def admin_token(srv, email: str, org: str) -> str:
    """A new user, ADMIN of a new org, and her session token (Parsable login)."""
    srv.admin.create_user(email, name="Contract Admin", password=USER_PASSWORD)
    srv.admin.create_org(org)
    srv.admin.add_member(org, email, "ADMIN")
    login = srv.parsable_call("login", {"email": email, "password": USER_PASSWORD})
    return login["result"]["success"]["authToken"]


def seed(srv) -> dict[str, str]:
    """An org with an ADMIN, a session token of hers, an API key, an OpenID client with an access
    token from a real code flow, and another org's admin."""
    token = admin_token(srv, ADMIN, "contract")
    other = admin_token(srv, OTHER, "contract-other")
    org_id = srv.cli("org", "show", "contract")
    key = requests.post(srv.api_url + "/authorization/v1/api-key", timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                        json={"apiKeyName": "contract", "expiresAfterDays": 1})
    assert key.status_code == 200, key.text
    client = srv.admin.create_client("confidential", "Contract", redirect_uri=[REDIRECT], first_party=True,
                                     grant_type=["authorization_code", "refresh_token"])
    client_id, client_secret = client["clientId"], client["clientSecret"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = srv.base_url + "/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "openid profile email",
        "state": "s", "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256"})
    back = sign_in_without_browser(srv.base_url, url, ADMIN, USER_PASSWORD)
    tokens = requests.post(srv.base_url + "/oauth2/token", auth=(client_id, client_secret), timeout=30, data={
        "grant_type": "authorization_code", "code": back.params["code"], "redirect_uri": REDIRECT,
        "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    return {
        "PORTCULLIS_CONTRACT_TOKEN": token,
        "PORTCULLIS_CONTRACT_OTHER_TOKEN": other,
        "PORTCULLIS_CONTRACT_ORG_ID": org_id.get("id") or org_id["org"]["id"],
        "PORTCULLIS_CONTRACT_CLIENT_BASIC": base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(),
        "PORTCULLIS_CONTRACT_OIDC_TOKEN": tokens.json()["access_token"],
    }


def server_faults(log: Path) -> list[str]:
    """Access lines with a 5xx, and any panic, in the server's JSON log."""
    faults = []
    for line in log.read_text(errors="replace").splitlines():
        if "panicked" in line:
            faults.append(line)
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        fields = event.get("fields", {})
        if fields.get("message") == "request finished" and int(fields.get("status", 0)) >= 500:
            faults.append(line)
    return faults


def test_every_documented_operation_answers_as_documented(server_factory, tmp_path):
    srv = start_server(server_factory)
    doc = requests.get(srv.base_url + "/openapi.json", timeout=30)
    assert doc.status_code == 200
    assert doc.headers["content-type"] == "application/json"
    assert "public" in doc.headers["cache-control"]
    operations = sum(len(item) for item in doc.json()["paths"].values())
    assert operations > 60, operations

    env = {**os.environ, **seed(srv)}
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    budget = os.environ.get("PORTCULLIS_CONTRACT_SECONDS", "45")
    seed_value = os.environ.get("PORTCULLIS_CONTRACT_SEED", "20261207")
    argv = [str(SCHEMATHESIS), "--config-file", str(config), "run", srv.base_url + "/openapi.json",
            "--checks", CHECKS, "--phases", "coverage,fuzzing", "--max-examples", "12",
            "--max-time", budget, "--seed", seed_value, "--workers", "2", "--request-timeout", "10",
            "--suppress-health-check", "all", "--no-color", "--report", "junit",
            "--report-dir", str(tmp_path / "report")]
    run = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    print(output[-6000:])       # the summary: operations, cases, checks (shown with -s or on failure)
    assert run.returncode == 0, f"schemathesis found contract violations:\n{output[-20000:]}"
    assert "operations" in output.lower(), output[-4000:]

    faults = server_faults(srv.stderr_path) + server_faults(srv.stdout_path)
    assert not faults, "the server logged panics or 5xx answers:\n" + "\n".join(faults[:20])
