"""The Nominal (Conjure) surface driven with the official `nominal-api` Python client.

Users, orgs, workspaces and the allow-list are set up with `portcullis admin`; tokens come from a
password login through the Parsable JSON envelope (tokens work on both APIs). Tests skip, with the
reason, while the Parsable login or the Nominal router is not yet mounted in the binary.
"""
from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests
from conjure_python_client import ConjureHTTPError
from nominal_api import authentication_api as authn
from nominal_api import authorization as authz
from nominal_api import security_api_workspace as wsapi

from harness.clients import bearer, nominal_client

PASSWORD = "correct horse battery staple 42"


def login(server, email: str) -> str:
    r = server.parsable_post("login", {"email": email, "password": PASSWORD})
    try:
        return r.json()["result"]["success"]["authToken"]
    except Exception:  # noqa: BLE001 - any other shape means the Parsable login is not there yet
        pytest.skip(f"Parsable JSON login unavailable (HTTP {r.status_code}): {r.text[:200]}")


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class World:
    def __init__(self, server):
        self.server = server
        probe = requests.get(f"{server.api_url}/authorization/v1/checkAdmin", timeout=10)
        if probe.status_code == 404:
            pytest.skip("the Nominal router is not mounted in the binary yet")
        admin = server.admin
        admin("allowlist", "add", "domain", "example.com")
        for org in ("alpha", "beta"):
            admin.create_org(org)
        for email, name in (("ada@example.com", "Ada Admin"), ("mel@example.com", "Mel Member"),
                            ("otto@other.org", "Otto Other")):
            admin.create_user(email, name=name, password=PASSWORD)
        admin.add_member("alpha", "ada@example.com", "ADMIN")
        admin.add_member("alpha", "mel@example.com", "AUTHOR")
        admin.add_member("beta", "otto@other.org", "ADMIN")
        admin("workspace", "create", "--org", "alpha", "one")
        admin("workspace", "create", "--org", "alpha", "two")
        admin("workspace", "create", "--org", "beta", "bee")
        admin("workspace", "grant", "alpha/one", "--user", "mel@example.com")
        self.ada = bearer(login(server, "ada@example.com"))
        self.mel = bearer(login(server, "mel@example.com"))
        self.otto = bearer(login(server, "otto@other.org"))
        self.authz = server.nominal(authz.AuthorizationService)
        self.keys = server.nominal(authz.InternalApiKeyService)
        self.authn = server.nominal(authn.AuthenticationServiceV2)
        self.ws = server.nominal(wsapi.WorkspaceService)


@pytest.fixture
def world(server) -> World:
    return World(server)


def error_name(call) -> str:
    with pytest.raises(ConjureHTTPError) as e:
        call()
    return e.value.error_name


def test_api_key_lifecycle(world):
    w = world
    created = w.authz.create_api_key(w.ada, authz.CreateApiKeyRequest(api_key_name="ci"))
    assert created.api_key_value.startswith("nominal_api_key_")
    w.authz.create_api_key(w.mel, authz.CreateApiKeyRequest(api_key_name="mine", expires_after_days=7))
    exchanged = w.keys.get_access_token_from_api_key_value(
        authz.GetAccessTokenFromApiKeyRequest(api_key_value=created.api_key_value))
    me = w.authn.get_my_profile(w.ada)
    assert str(exchanged.user_uuid) == me.rid.rsplit(".", 1)[1]
    for cred in (created.api_key_value, exchanged.access_token):
        assert w.authn.get_my_profile(bearer(cred)).email == "ada@example.com"
    assert len(w.authz.list_api_keys_in_org(w.ada, authz.ListApiKeyRequest()).api_keys) == 2
    assert len(w.authz.list_api_keys_in_org(w.mel, authz.ListApiKeyRequest()).api_keys) == 1
    assert len(w.authz.list_user_api_keys(w.ada, authz.ListApiKeyRequest()).api_keys) == 1
    assert error_name(lambda: w.authz.revoke_api_key(w.mel, created.api_key_metadata.rid)) \
        == "Authorization:NotAuthorizedAdmin"
    assert error_name(lambda: w.authz.revoke_api_key(w.otto, created.api_key_metadata.rid)) \
        == "Authorization:ApiKeyNotFound"
    w.authz.revoke_api_key(w.ada, created.api_key_metadata.rid)
    w.authz.revoke_api_key(w.ada, created.api_key_metadata.rid)  # idempotent
    for cred in (created.api_key_value, exchanged.access_token):
        assert error_name(lambda: w.authn.get_my_profile(bearer(cred))) == "Authorization:NotAuthorized"
    assert error_name(lambda: w.keys.get_access_token_from_api_key_value(
        authz.GetAccessTokenFromApiKeyRequest(api_key_value=created.api_key_value))) == "Authorization:NotAuthorized"


def okta_payload(email: str) -> dict:
    return {"eventId": "3o9jBzq1SmOGmmsDsqyyeQ", "eventTime": "2025-06-01T10:00:00.000Z",
            "eventType": "com.okta.user.pre-registration", "eventTypeVersion": "1.0",
            "contentType": "application/json", "cloudEventVersion": "0.1",
            "source": "https://acme.okta.com/api/v1/inlineHooks/cal0ab12",
            "requestType": "self.service.registration",
            "data": {"context": {"request": {"id": "reqXyz", "method": "POST",
                                             "url": {"value": "/idp/idx/enroll/new"}, "ipAddress": "203.0.113.7"}},
                     "userProfile": {"firstName": "Ada", "lastName": "Byron", "login": email, "email": email},
                     "action": "ALLOW"}}


def test_okta_hooks(world):
    w = world
    url = f"{w.server.api_url}/authorization/v1/is-email-allowed-okta"
    r = requests.post(url, json=okta_payload("ada@example.com"), headers={"Authorization": w.mel}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"commands": [{"type": "com.okta.action.update", "value": {"registration": "ALLOW"}}]}
    r = requests.post(url, json=okta_payload("ada@nope.io"), headers={"Authorization": w.mel}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["commands"][0]["value"]["registration"] == "DENY"
    assert body["error"]["errorCauses"][0]["location"] == "data.userProfile.email"
    typed = w.authz.is_email_allowed_okta(w.mel, authz.OktaRegistrationRequest(
        request_type="progressive.profile",
        data=authz.OktaRegistrationEventData(user_profile=authz.OktaRegistrationUserProfile(email="x@example.com"))))
    assert typed.commands[0].value.registration.value == "ALLOW"
    free = requests.post(f"{w.server.api_url}/authorization/v1/is-email-allowed-freemium-okta",
                         json=okta_payload("ada@nope.io"), timeout=10)
    assert free.json()["commands"][0]["value"]["registration"] == "ALLOW"


def test_cross_org_isolation(world):
    w = world
    ada = w.authn.get_my_profile(w.ada)
    mine = {x.id: x for x in w.ws.get_workspaces(w.ada)}
    assert set(mine) == {"one", "two"}
    one = mine["one"].rid
    w.authz.register_in_workspace(w.ada, authz.RegisterInWorkspaceRequest(
        resource_rids=["ri.test..dataset.1"], workspace_rid=one))
    assert [x.id for x in w.ws.get_workspaces(w.otto)] == ["bee"]
    assert error_name(lambda: w.ws.get_workspace(w.otto, one)) == "Security:WorkspaceNotFound"
    assert w.authz.authorize(w.otto, authz.AuthorizationRequest(rids=["ri.test..dataset.1"])) == []
    assert w.authz.batch_get_workspace_for_resource(w.otto, ["ri.test..dataset.1"]) == {}
    assert error_name(lambda: w.authn.get_user(w.otto, ada.rid)) == "Authentication:UserNotFound"
    assert w.authn.get_users(w.otto, [ada.rid]) == []
    found = w.authn.search_users_v2(w.otto, authn.SearchUsersRequest(
        query=authn.SearchUsersQuery(search_text="example.com")))
    assert found.results == []
    assert w.authz.list_api_keys_in_org(w.otto, authz.ListApiKeyRequest()).api_keys == []
    assert error_name(lambda: w.authz.register_in_workspace(w.otto, authz.RegisterInWorkspaceRequest(
        resource_rids=["ri.test..dataset.2"], workspace_rid=one))) == "Authorization:WorkspaceNotFound"
    assert error_name(lambda: w.authz.set_user_org(w.otto, authz.SetUserOrgRequest(org_rid=ada.org_rid))) \
        == "Authorization:NotAuthorized"
    assert error_name(lambda: w.authn.list_org_login_activity(w.otto, authn.ListOrgLoginActivityRequest(
        orgs=[ada.org_rid]))) == "Authentication:NotAuthorizedAdmin"
    assert w.authn.get_my_org_settings(w.otto).default_workbook_visible_in_search is None


def test_user_search_pages(world):
    w = world
    emails = [f"crew{i:02d}@example.com" for i in range(7)]
    created = w.authn.batch_preregister_users(w.ada, authn.BatchPreregisterUsersRequest(emails=emails))
    assert set(created.users) == set(emails)
    seen, token, pages = [], None, 0
    while True:
        page = w.authn.search_users_v2(w.mel, authn.SearchUsersRequest(
            query=authn.SearchUsersQuery(search_text="crew"), page_size=3, next_page_token=token,
            sort_by=authn.SortBy(field=authn.SortByField.EMAIL, is_descending=False)))
        pages += 1
        seen += [u.email for u in page.results]
        token = page.next_page_token
        if token is None:
            break
    assert pages == 3 and seen == emails
    assert error_name(lambda: w.authn.search_users_v2(w.mel, authn.SearchUsersRequest(
        query=authn.SearchUsersQuery(search_text="crew"), page_size=1001))) == "Authentication:SearchUsersLimitExceeded"


def test_preregistering_an_existing_account_invites_it(world):
    """An account of another org is not pulled in by preregistration (issue 15): its entry in
    the answer looks like a new account's, and it joins only at its own next sign-in."""
    w = world
    admin = w.server.admin
    admin.create_user("kim@example.com", name="Kim Known", password=PASSWORD)
    admin.add_member("beta", "kim@example.com", "AUTHOR")
    kim = w.authn.get_my_profile(bearer(login(w.server, "kim@example.com")))
    answer = w.authn.batch_preregister_users(w.ada, authn.BatchPreregisterUsersRequest(
        emails=["kim@example.com", "newbie@example.com"])).users
    assert set(answer) == {"kim@example.com", "newbie@example.com"}
    known, fresh = answer["kim@example.com"], answer["newbie@example.com"]
    assert known.rid != kim.rid
    assert (known.display_name, known.avatar_url) == ("kim", fresh.avatar_url)
    assert known.created_at == fresh.created_at and known.org_rid == fresh.org_rid
    # Not a member of alpha until Kim signs in: invisible to its admin.
    assert w.authn.get_users(w.ada, [kim.rid, known.rid]) == []
    assert error_name(lambda: w.authn.get_user(w.ada, kim.rid)) == "Authentication:UserNotFound"
    assert [u.email for u in w.authn.get_users(w.ada, [fresh.rid])] == ["newbie@example.com"]
    # Kim's next sign-in accepts the invitation: Kim can act in alpha, whose admin sees Kim.
    again = bearer(login(w.server, "kim@example.com"))
    w.authz.set_user_org(again, authz.SetUserOrgRequest(org_rid=fresh.org_rid))
    seen = w.authn.get_users(w.ada, [kim.rid])
    assert [u.display_name for u in seen] == ["Kim Known"]


def test_register_in_workspace_conflicts_and_noops(world):
    w = world
    rids = {x.id: x.rid for x in w.ws.get_workspaces(w.ada)}
    req = lambda ws, rs: authz.RegisterInWorkspaceRequest(resource_rids=rs, workspace_rid=rids[ws])  # noqa: E731
    w.authz.register_in_workspace(w.ada, req("one", ["ri.t..d.1", "ri.t..d.2"]))
    w.authz.register_in_workspace(w.ada, req("one", ["ri.t..d.2"]))  # no-op
    with pytest.raises(ConjureHTTPError) as e:
        w.authz.register_in_workspace(w.ada, req("two", ["ri.t..d.9", "ri.t..d.2", "ri.t..d.1"]))
    assert e.value.error_name == "Authorization:RegisterResourceConflict"
    assert e.value.parameters["resource"] == "ri.t..d.1"
    assert w.authz.batch_get_workspace_for_resource(w.ada, ["ri.t..d.1", "ri.t..d.9"]) == {"ri.t..d.1": rids["one"]}
    assert sorted(w.authz.authorize(w.mel, authz.AuthorizationRequest(rids=["ri.t..d.1", "ri.t..d.9"]))) == ["ri.t..d.1"]
    assert error_name(lambda: w.authz.register_in_workspace(w.mel, req("two", ["ri.t..d.5"]))) \
        == "Authorization:NotAuthorized"


def test_other_endpoints(world):
    w = world
    w.authz.check_admin(w.ada)
    assert error_name(lambda: w.authz.check_admin(w.mel)) == "Authorization:NotAuthorizedAdmin"
    me = w.authn.update_my_profile(w.mel, authn.UpdateMyProfileRequest(display_name="  Mel  "))
    assert me.display_name == "Mel"
    assert error_name(lambda: w.authn.update_my_profile(w.mel, authn.UpdateMyProfileRequest(display_name=" "))) \
        == "Default:InvalidArgument"
    s = w.authn.update_my_settings(w.mel, authn.UserSettings(vim_mode_enabled=True))
    assert s.vim_mode_enabled is True and w.authn.get_my_settings(w.mel).vim_mode_enabled is True
    assert error_name(lambda: w.authn.update_my_org_settings(w.mel, authn.OrgSettings(
        default_workbook_visible_in_search=True))) == "Authentication:NotAuthorizedAdmin"
    w.authn.update_my_org_settings(w.ada, authn.OrgSettings(default_workbook_visible_in_search=True))
    assert w.authn.get_my_org_settings(w.mel).default_workbook_visible_in_search is True
    ada = w.authn.get_my_profile(w.ada)
    assert [u.email for u in w.authn.get_users(w.mel, [ada.rid])] == ["ada@example.com"]
    assert w.authn.get_user(w.mel, ada.rid).email == "ada@example.com"
    assert w.ws.get_default_workspace(w.mel).id == "one"
    assert w.ws.get_default_workspace(w.ada) is None
    one = w.ws.get_default_workspace(w.mel).rid
    assert error_name(lambda: w.ws.update_workspace(w.mel, wsapi.UpdateWorkspaceRequest(), one)) \
        == "Authorization:NotAuthorizedAdmin"
    upd = w.ws.update_workspace(w.ada, wsapi.UpdateWorkspaceRequest(
        display_name=wsapi.UpdateOrRemoveWorkspaceDisplayName(display_name="Uno")), one)
    assert upd.display_name == "Uno"
    activity = w.authn.list_org_login_activity(w.ada, authn.ListOrgLoginActivityRequest())
    assert len(activity.results) == 2
    mel = w.authn.get_my_profile(w.mel)
    assert error_name(lambda: w.authn.deactivate_user(w.ada, ada.rid)) == "Default:InvalidArgument"
    w.authn.deactivate_user(w.ada, mel.rid)
    assert error_name(lambda: w.authn.get_my_profile(w.mel)) == "Authorization:NotAuthorized"
    w.authn.reactivate_user(w.ada, mel.rid)
    # No provider configured: an undecodable ID token is InvalidJwtFormat (NOMINAL §7 getAccessToken;
    # the federated flows are in test_federation.py).
    assert error_name(lambda: w.authz.get_access_token(authz.GetAccessTokenRequest(id_token="x.y.z"))) \
        == "Authorization:InvalidJwtFormat"
    jwks = requests.get(f"{w.server.api_url}/authentication/v2/jwks", timeout=10)
    assert jwks.status_code == 404 and jwks.json()["errorName"] == "Default:NotFound"
    sandbox = requests.post(f"{w.server.api_url}/sandbox-token-internal/v1/issue", json={},
                            headers={"X-Nominal-Sandbox-Shared-Secret": uuid.uuid4().hex}, timeout=10)
    assert sandbox.status_code == 403
    assert sandbox.json()["errorName"] == "Authorization:SandboxTokenUnavailable"


# --- issue 15: sessions reach MediaMTX, sandbox sessions idle out, API keys are capped -----------

def test_mediamtx_token_refused_by_the_callback_after_logout(server_factory):
    w = World(server_factory(config="[core.mediamtx]\nenabled = true\n"))
    mel_token = w.mel.split(" ", 1)[1]
    cam = f"{claims(mel_token)['org']}/cam1"
    minted = w.authn.generate_media_mtx_token(w.mel, authn.GenerateMediaMtxTokenRequest(
        permissions=[authn.MediaMtxPermission(action="read", path=cam)])).token
    callback = f"{w.server.api_url}/mediamtx-internal/v1/auth"

    def mediamtx_asks(**fields) -> int:
        # What MediaMTX (authMethod: http) posts for each reader.
        body = {"user": "", "password": "", "token": "", "ip": "203.0.113.5", "action": "read",
                "path": cam, "protocol": "hls", "id": None, "query": "", **fields}
        return requests.post(callback, json=body, timeout=10).status_code

    assert mediamtx_asks(token=minted) == 200
    assert mediamtx_asks(user="viewer", password=minted, protocol="rtsp") == 200
    assert mediamtx_asks(query=f"jwt={minted}", protocol="webrtc") == 200
    assert mediamtx_asks(token=minted, action="publish") == 403
    r = w.server.parsable_post("logout", {}, token=mel_token)
    assert r.status_code == 200, r.text
    # The MediaMTX token had 2 h left; the callback now refuses it.
    assert mediamtx_asks(token=minted) == 403
    assert error_name(lambda: w.authn.get_my_profile(w.mel)) == "Authorization:NotAuthorized"


def test_sandbox_sessions_get_the_idle_timeout(server_factory):
    config = ("[core.tokens]\nidle_timeout_secs = 600\n"
              "[core.sandbox]\nshared_secret = \"s3cret\"\norg = \"alpha\"\n"
              "primary_user = \"mel@example.com\"\n")
    w = World(server_factory(config=config))
    sandbox = w.server.nominal(authz.InternalSandboxTokenService)
    token = sandbox.issue_sandbox_token(authz.IssueSandboxTokenRequest(), "s3cret").access_token
    assert w.authn.get_my_profile(bearer(token)).email == "mel@example.com"
    listed = requests.get(f"{w.server.base_url}/account/v1/sessions",
                          headers={"Authorization": bearer(token)}, timeout=10).json()["sessions"]
    (mine,) = [s for s in listed if s["current"]]
    assert mine["idleExpiresAt"] is not None, mine
    r = requests.get(f"{w.server.base_url}/account/v1/sessions/current",
                     headers={"Authorization": bearer(token)}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == claims(token)["sid"] == mine["id"]
    from datetime import datetime
    at = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    assert at(r.json()["idleExpiresAt"]) >= at(mine["idleExpiresAt"])   # this check is a newer use


def test_api_keys_per_user_are_capped(server_factory):
    w = World(server_factory(config="[core.credentials]\nmax_api_keys_per_user = 2\n"))
    for name in ("one", "two"):
        w.authz.create_api_key(w.mel, authz.CreateApiKeyRequest(api_key_name=name))
    with pytest.raises(ConjureHTTPError) as e:
        w.authz.create_api_key(w.mel, authz.CreateApiKeyRequest(api_key_name="three"))
    assert e.value.error_name == "Authorization:ApiKeyLimitExceeded"
    assert e.value.parameters["allowedLimit"] == "2"
    assert len(w.authz.list_user_api_keys(w.mel, authz.ListApiKeyRequest()).api_keys) == 2
