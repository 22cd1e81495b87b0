"""Team settings, priorities and job-permission overrides in the Parsable LoginResult (PARSABLE.md §8
fields 8 and 9), set with `portcullis admin settings` / `job-permissions` and over the org-admin HTTP
route, read back with the PyPI `thrift` client (compact and TJSON) and the Parsable JSON envelope; and
the team-select login of a user on no team (a loginResult, not err 476).
"""
from __future__ import annotations

import json

import pytest
import requests

from harness.clients import ThriftClient

from test_parsable_auth import PW, PROTOCOLS, add, login, member, mk_team, mk_user, ok, require_surface


def admin_url(server, team: str, rest: str) -> str:
    return f"{server.base_url}/admin/v1/orgs/{team}/{rest}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_settings_priorities_and_overrides_reach_the_login_result(server, thrift_stubs, protocol):
    require_surface(server)
    uid, tid = member(server, "exec@example.com", "EXECUTOR")
    mk_user(server, "boss@example.com")
    add(server, tid, "boss@example.com", "ADMIN")

    # Operator: the CLI.
    server.cli("settings", "set", tid, "flag", "--type", "bool", "--value", "true")
    server.cli("settings", "set", tid, "motto", "--type", "text", "--value", "Safety first")
    server.cli("settings", "set", tid, "tags", "--type", "string-list", "--value", '["a","b"]')
    server.cli("settings", "set", tid, "owners", "--type", "reference-list",
               "--value", json.dumps([{"id": uid, "kind": "user", "label": "Exec"}]))
    server.cli("settings", "set-priorities", tid,
               '[{"priority":1,"title":"High"},{"priority":5,"title":"Low","archivedAt":1700000000}]')
    server.cli("job-permissions", "set", tid, "EXECUTOR", "--allow", "complete,issueCreate")

    # Org admin: the HTTP admin route with a Portcullis token.
    boss = login(server, "boss@example.com")["authToken"]
    r = requests.patch(admin_url(server, tid, "settings"), headers=bearer(boss), timeout=10,
                       json={"mode": {"type": "option", "value": "strict"}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["mode"] == {"type": "option", "value": "strict"}
    r = requests.put(admin_url(server, tid, "job-permissions/AUTHOR"), headers=bearer(boss), timeout=10,
                     json={"editTitle": True})
    assert r.status_code == 200, r.text

    # A member's Parsable JSON login.
    lr = login(server, "exec@example.com")
    info = lr["teamIdToInfo"][tid]
    assert info["boolSettings"] == {"flag": True}
    assert info["textSettings"] == {"motto": "Safety first"}
    assert info["optionSettings"] == {"mode": "strict"}
    assert info["stringListSettings"] == {"tags": ["a", "b"]}
    assert info["referenceListSettings"] == {"owners": [{"id": uid, "kind": "user", "label": "Exec"}]}
    assert [p["title"] for p in info["priorities"]] == ["High", "Low"]
    perms = lr["teamIdToJobPermissions"][tid]
    assert perms["complete"] is True and perms["editTitle"] is False
    assert perms["issue"]["create"] is True and perms["step"]["completeSteps"] is False

    # The same through the generated thrift client.
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, server.auth_url, protocol=protocol) as c:
        lr = c.login("exec@example.com", PW, at.LoginOptions())
    info = lr.teamIdToInfo[tid]
    assert info.boolSettings == {"flag": True}
    assert info.textSettings == {"motto": "Safety first"}
    assert info.optionSettings == {"mode": "strict"}
    assert info.stringListSettings == {"tags": ["a", "b"]}
    (ref,) = info.referenceListSettings["owners"]
    assert (ref.id, ref.kind, ref.label) == (uid, "user", "Exec")
    assert [(p.priority, p.title, p.archivedAt) for p in info.priorities] == [(1, "High", 0), (5, "Low", 1700000000)]
    assert all(len(p.id) == 36 for p in info.priorities)
    perms = lr.teamIdToJobPermissions[tid]
    assert perms.complete and not perms.editTitle and not perms.uncomplete
    assert perms.issue.create and not perms.step.completeSteps
    # The org admin keeps the configured table (ADMIN has no override): every flag.
    with ThriftClient(thrift_stubs, server.auth_url, protocol=protocol) as c:
        blr = c.login("boss@example.com", PW, at.LoginOptions())
    assert blr.teamIdToJobPermissions[tid].user.inviteUsers

    # Cleared: priorities unset, the configured table again.
    server.cli("settings", "clear-priorities", tid)
    server.cli("job-permissions", "clear", tid, "EXECUTOR")
    with ThriftClient(thrift_stubs, server.auth_url, protocol=protocol) as c:
        lr = c.login("exec@example.com", PW, at.LoginOptions())
    assert lr.teamIdToInfo[tid].priorities is None
    assert lr.teamIdToJobPermissions[tid].editTitle


def test_admin_route_refuses_members_and_other_orgs_admins(server):
    require_surface(server)
    _, tid = member(server, "m@example.com", "AUTHOR,PARSABLE_ADMIN")
    member(server, "a@example.com", "ADMIN")
    url = admin_url(server, tid, "settings")
    body = {"flag": {"type": "bool", "value": True}}
    assert requests.get(url, timeout=10).status_code == 401
    for email in ("m@example.com", "a@example.com"):
        tok = login(server, email)["authToken"]
        for r in (requests.get(url, headers=bearer(tok), timeout=10),
                  requests.patch(url, headers=bearer(tok), json=body, timeout=10)):
            assert r.status_code == 403, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "forbidden"
    r = requests.patch(url, headers=bearer(login(server, server.admin_email, server.admin_password)["authToken"]),
                       json={"flag": {"type": "bool", "value": "yes"}}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument", r.text
    assert server.cli("settings", "list", tid)["settings"] == {}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_team_select_of_a_user_on_no_team(server, thrift_stubs, protocol):
    require_surface(server)
    uid = mk_user(server, "solo@example.com")
    # The JSON envelope: a loginResult of no team, not err 476.
    sel = ok(server, "loginWithTeamSelect", {"email": "solo@example.com", "password": PW})
    assert "teamInfo" not in sel
    assert sel["loginResult"]["authToken"] and sel["loginResult"]["teamIdToTeamRole"] == {}
    assert sel["loginResult"]["teamIdToInfo"] == {}
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, server.auth_url, protocol=protocol) as c:
        sel = c.loginWithTeamSelect("solo@example.com", PW, at.LoginOptions())
        assert sel.teamInfo is None
        lr = sel.loginResult
        assert lr is not None and lr.authToken and lr.sessionId
        assert lr.currentUser.id == uid
        assert lr.teamIdToTeamRole == {} and lr.teamIdToRegionId == {} and lr.regionIdToRegion == {}
        assert lr.teamIdToJobPermissions == {} and lr.teamIdToInfo == {}
        assert lr.currentUserModular.teamIdToMembership == {}
        c.set_headers(token=lr.authToken)
        assert c.getCurrentUser().email == "solo@example.com"
        # Joined a team later: refresh shows it.
        tid = mk_team(server, "later")
        add(server, tid, "solo@example.com", "EXECUTOR")
        assert c.refresh().teamIdToTeamRole == {tid: [4]}


def test_idp_team_select_of_a_user_on_no_team(server_factory, oidc_provider, thrift_stubs):
    from test_federation import idp_err, idp_ok, provider_toml, start

    prov = oidc_provider
    # Provisioned just in time into alpha, then removed from it: on no team.
    srv = start(server_factory, provider_toml(prov, "corp", jit_provisioning=True, jit_orgs=["alpha"]))
    t = prov.tokens("sub-solo", email="solo@example.com")
    assert idp_ok(srv, "loginWithIdp", t["access_token"])["authToken"]
    srv.cli("member", "remove", "--org", "alpha", "--user", "solo@example.com")
    sel = idp_ok(srv, "loginWithIdpAndTeamSelect", t["access_token"])
    assert "teamInfo" not in sel
    lr = sel["loginResult"]
    assert lr["authToken"] and lr["currentUser"]["email"] == "solo@example.com"
    assert lr["teamIdToTeamRole"] == {} and lr["teamIdToInfo"] == {}
    at = thrift_stubs.authentication.ttypes
    with ThriftClient(thrift_stubs, srv.auth_url, protocol="compact", idp_token=t["access_token"]) as c:
        sel = c.loginWithIdpAndTeamSelect(at.LoginOptions())
        assert sel.teamInfo is None and sel.loginResult.teamIdToJobPermissions == {}
        c.set_headers(token=sel.loginResult.authToken)
        assert c.getCurrentUser().email == "solo@example.com"
    # loginWithIdp (no team select) still needs a team.
    assert idp_err(srv, "loginWithIdp", t["access_token"])["errorCode"] == 476
