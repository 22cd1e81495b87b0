"""The org-binding rule (docs/design/credentials.md): a credential (API key, persistent token), a token
exchanged from one, or a team token acts only inside the org it was minted for, and never with
super-admin powers. Seen with plain HTTP on the org-admin route, the PyPI `thrift` client on
fetchPersistentAuthTokensMeta, and the `nominal-api` client on listOrgLoginActivity.
"""
from __future__ import annotations

import pytest
import requests
from conjure_python_client import ConjureHTTPError
from nominal_api import authentication_api as authn
from nominal_api import authorization as authz

from harness.clients import bearer as nominal_bearer

from test_parsable_auth import PROTOCOLS, add, admin_token, login, member, mk_team, mk_user, ok, require_surface


def settings_url(server, team: str) -> str:
    return f"{server.base_url}/admin/v1/orgs/{team}/settings"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def teams(server, roles_in_one: str = "AUTHOR") -> tuple[str, str, str]:
    """Team one and team two; `both@` has `roles_in_one` in one (its default) and is ADMIN of two;
    the bootstrap super-admin is an AUTHOR of one. Returns (one, two, both's user id)."""
    uid, one = member(server, "both@example.com", roles_in_one, team_name="one")
    two = mk_team(server, "two")
    add(server, two, "both@example.com", "ADMIN")
    add(server, one, server.admin_email, "AUTHOR")
    return one, two, uid


def persistent(server, at: str, uid: str) -> str:
    return ok(server, "createPersistentAuth", {"userId": uid}, token=at)["authToken"]


def test_admin_route_binds_credentials_to_their_org(server):
    require_surface(server)
    one, two, both_id = teams(server)
    at = admin_token(server)
    admin_id = login(server, server.admin_email, server.admin_password)["currentUser"]["id"]
    both_pt = persistent(server, at, both_id)      # issued in team one
    root_pt = persistent(server, at, admin_id)     # the super-admin's own, issued in team one
    body = {"flag": {"type": "bool", "value": True}}
    for tok, teams_ in ((both_pt, (two,)), (root_pt, (one, two))):
        for team in teams_:
            url = settings_url(server, team)
            for r in (requests.get(url, headers=bearer(tok), timeout=10),
                      requests.patch(url, headers=bearer(tok), json=body, timeout=10)):
                assert r.status_code == 403, r.text
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["code"] == "forbidden"
    assert server.cli("settings", "list", two)["settings"] == {}
    # Their own sign-ins keep their rights.
    both = login(server, "both@example.com")["authToken"]
    assert requests.get(settings_url(server, two), headers=bearer(both), timeout=10).status_code == 200
    assert requests.get(settings_url(server, two), headers=bearer(at), timeout=10).status_code == 200


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_persistent_token_metadata_stays_in_its_team(server, thrift_stubs, protocol):
    require_surface(server)
    one, two, both_id = teams(server)
    bot_id = mk_user(server, "bot@example.com")
    add(server, one, "bot@example.com", "EXECUTOR")
    add(server, two, "bot@example.com", "EXECUTOR")
    at = admin_token(server)
    persistent(server, at, bot_id)                 # issued in team one
    both_pt = persistent(server, at, both_id)      # issued in team one
    both = login(server, "both@example.com")["authToken"]
    SystemException = thrift_stubs.common.ttypes.SystemException
    with server.thrift(protocol=protocol, token=at) as tc:
        assert [m.userId for m in tc.fetchPersistentAuthTokensMeta(one, [bot_id])] == [bot_id]
        assert tc.fetchPersistentAuthTokensMeta(two, [bot_id]) == []
    with server.thrift(protocol=protocol, token=both) as tc:
        assert tc.fetchPersistentAuthTokensMeta(two, [bot_id]) == []
    # Team two's admin, through a persistent token of team one: refused.
    with server.thrift(protocol=protocol, token=both_pt) as tc:
        with pytest.raises(SystemException) as ei:
            tc.fetchPersistentAuthTokensMeta(two, [bot_id])
        assert ei.value.errorCode == 476


def test_login_activity_of_another_org_with_an_api_key(server):
    probe = requests.get(f"{server.api_url}/authorization/v1/checkAdmin", timeout=10)
    if probe.status_code == 404:
        pytest.skip("the Nominal router is not mounted in the binary yet")
    require_surface(server)
    one, two, _ = teams(server, roles_in_one="ADMIN")
    session = nominal_bearer(login(server, "both@example.com")["authToken"])
    keys = server.nominal(authz.AuthorizationService)
    svc = server.nominal(authn.AuthenticationServiceV2)
    key = keys.create_api_key(session, authz.CreateApiKeyRequest(api_key_name="ci")).api_key_value
    me = svc.get_my_profile(session)
    two_rid = me.org_rid.rsplit(".", 1)[0] + "." + two
    assert me.org_rid.endswith(one)
    both_orgs = authn.ListOrgLoginActivityRequest(orgs=[me.org_rid, two_rid])
    assert svc.list_org_login_activity(session, both_orgs).results
    with pytest.raises(ConjureHTTPError) as e:
        svc.list_org_login_activity(nominal_bearer(key), both_orgs)
    assert e.value.error_name == "Authentication:NotAuthorizedAdmin"
    assert svc.list_org_login_activity(nominal_bearer(key), authn.ListOrgLoginActivityRequest()).results
