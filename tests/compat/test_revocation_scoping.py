"""Revocation and scoping seen by the official `nominal-api` client, with changes made by the
admin CLI (another process on the same store): removing a member ends a setUserOrg token that
rides a session of another org; disabling an org stops its API keys; an API key never lists
another org's workspaces.
"""
from __future__ import annotations

import time

from nominal_api import authorization as authz

from harness.clients import bearer
from test_nominal_surface import World, error_name, world  # noqa: F401 - the fixture


def refused_within_a_second(call) -> None:
    start = time.monotonic()
    while True:
        try:
            call()
        except Exception:  # noqa: BLE001 - ConjureHTTPError, checked by name below
            break
        assert time.monotonic() - start < 1.5, "still accepted after 1 s"
        time.sleep(0.05)
    assert error_name(call) == "Authorization:NotAuthorized"


def test_removed_member_loses_a_switched_org_token(world: World):
    w = world
    w.server.admin.add_member("beta", "mel@example.com", "AUTHOR")
    beta = w.authn.get_my_profile(w.otto).org_rid
    switched = bearer(w.authz.set_user_org(w.mel, authz.SetUserOrgRequest(org_rid=beta)).access_token)
    assert w.authn.get_my_profile(switched).org_rid == beta
    w.server.admin("member", "remove", "--org", "beta", "--user", "mel@example.com")
    refused_within_a_second(lambda: w.authn.get_my_profile(switched))
    # The home org's session is untouched.
    assert w.authn.get_my_profile(w.mel).email == "mel@example.com"


def test_disabled_org_stops_its_api_keys(world: World):
    w = world
    key = w.authz.create_api_key(w.otto, authz.CreateApiKeyRequest(api_key_name="ci")).api_key_value
    assert w.authn.get_my_profile(bearer(key)).email == "otto@other.org"
    w.server.admin("org", "disable", "beta")
    refused_within_a_second(lambda: w.authn.get_my_profile(bearer(key)))
    w.server.admin("org", "enable", "beta")
    start = time.monotonic()
    while True:
        try:
            assert w.authn.get_my_profile(bearer(key)).email == "otto@other.org"
            break
        except Exception:  # noqa: BLE001 - still the feed interval
            assert time.monotonic() - start < 1.5
            time.sleep(0.05)


def test_api_key_lists_only_its_orgs_workspaces(world: World):
    w = world
    w.server.admin.add_member("beta", "mel@example.com", "ADMIN")
    mine = {x.id for x in w.ws.get_workspaces(w.mel, filter_by_session_org=False)}
    assert "bee" in mine
    key = w.authz.create_api_key(w.mel, authz.CreateApiKeyRequest(api_key_name="ci")).api_key_value
    listed = {x.id for x in w.ws.get_workspaces(bearer(key), filter_by_session_org=False)}
    assert "bee" not in listed
