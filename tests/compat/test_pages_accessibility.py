"""Every page of the real binary in headless Debian Chromium, checked with npm `axe-core`
(tests/federation/axe.mjs) at desktop and phone widths, light and dark: no serious or critical
violation, no CSP refusal, the stylesheet applied (docs/design/pages.md).

With PORTCULLIS_SCREENSHOT_DIR set (scripts/screenshots), the script also writes the screenshots.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import re

import pytest
import requests

from harness import paths
from harness.oidc_clients import RATE_LIMIT_TOML, USER_PASSWORD

pytestmark = pytest.mark.federation
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
AXE_SCRIPT = paths.FEDERATION_DIR / "axe.mjs"
EMAIL = "ada@example.com"
ENROL_EMAIL = "eve@example.com"
BRANDING = """
[core.branding]
product_name = "Portcullis"

[core.branding.orgs.acme]
display_name = "Acme Corporation"
accent = "#b0361e"
"""
EXPECTED_PAGES = {"sign-in", "sign-in-error", "sign-in-failed", "error", "sign-in-for-app", "org-choice",
                  "consent", "account-sessions", "account-apps", "account-password", "account-password-error",
                  "account-security", "account-security-passkey", "account-security-totp",
                  "account-security-totp-error", "account-security-codes", "account-security-remove",
                  "account-security-reauth", "sign-out", "signed-out", "sign-in-enrol", "sign-in-second-step",
                  "signed-in"}


def run_axe(spec: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium`", pytrace=False)
    for module in ("axe-core", "playwright-core"):
        if not (paths.FEDERATION_DIR / "node_modules" / module).is_dir():
            pytest.fail(f"{paths.FEDERATION_DIR}/node_modules/{module} is missing: run `npm ci` there",
                        pytrace=False)
    done = subprocess.run([paths.node_binary() or "node", str(AXE_SCRIPT)], cwd=paths.FEDERATION_DIR,
                          input=json.dumps(spec) + "\n", capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CHROMIUM_BIN": CHROMIUM})
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_page_passes_axe_in_every_view(server_factory):
    srv = server_factory(config=RATE_LIMIT_TOML + BRANDING, start=False)
    # localhost, not 127.0.0.1: a secure context whose host can be a WebAuthn relying party, so the
    # passkey pages are part of the walk.
    base = f"http://localhost:{srv.port}"
    srv.env["PORTCULLIS_PUBLIC_URL"] = base
    srv.start()
    # Two orgs (the org page shows), the account pages in acme's brand (the default org).
    srv.admin.create_user(EMAIL, name="Ada Lovelace", password=USER_PASSWORD)
    srv.admin.create_org("acme", display_name="Acme Corporation")
    srv.admin.create_org("beta", display_name="Beta Labs")
    srv.admin.add_member("acme", EMAIL, "AUTHOR")
    srv.admin.add_member("beta", EMAIL, "AUTHOR")
    # An account whose org requires a second factor it does not have: the enrolment at sign-in.
    srv.admin.create_user(ENROL_EMAIL, name="Eve Example", password=USER_PASSWORD)
    srv.admin.create_org("gamma", display_name="Gamma Works")
    srv.admin.add_member("gamma", ENROL_EMAIL, "AUTHOR")
    srv.cli("org", "update", "gamma", "--mfa", "required")
    # A third-party (consent) client on the loopback redirect URI, any port.
    srv.admin.create_client("public", "Team Notes", client_id="notes", redirect_uri=["http://127.0.0.1/cb"],
                            scope=["openid", "profile", "email"])

    check_stylesheets(base)

    spec = {"base": base, "email": EMAIL, "password": USER_PASSWORD, "client_id": "notes",
            "enrol_email": ENROL_EMAIL}
    shots = os.environ.get("PORTCULLIS_SCREENSHOT_DIR")
    if shots:
        spec["screenshots"] = str(Path(shots).resolve())
    out = run_axe(spec)
    assert out["failure"] is None, f"{out['failure']}\nsteps: {out['steps']}"
    assert {p["name"] for p in out["pages"]} == EXPECTED_PAGES
    assert out["csp_errors"] == [], out["csp_errors"]
    assert out["unstyled"] == [], out["unstyled"]
    serious = [(p["name"], v["view"], x["id"], x["impact"], x["help"], x["nodes"])
               for p in out["pages"] for v in p["views"] for x in v["violations"]
               if x["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)
    # Minor and moderate findings are reported, not failed on.
    minor = sorted({(x["id"], x["impact"]) for p in out["pages"] for v in p["views"] for x in v["violations"]})
    print(f"axe: {len(out['pages'])} pages x 4 views; minor/moderate rule ids: {minor}")


def check_stylesheets(base: str) -> None:
    """The stylesheets a page links: served by the binary, versioned, cached only when versioned,
    revalidated by ETag; acme's accent in its own sheet; an unknown brand is 404."""
    page = requests.get(f"{base}/login", timeout=10)
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text)
    assert [link.split("?")[0] for link in links] == ["/assets/portcullis.css", "/assets/brand.css"], links
    css = requests.get(base + links[0], timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert css.headers["X-Content-Type-Options"] == "nosniff" and "prefers-color-scheme: dark" in css.text
    stale = requests.get(f"{base}/assets/portcullis.css?v=old", timeout=10)
    assert stale.headers["Cache-Control"] == "no-cache"
    again = requests.get(f"{base}/assets/portcullis.css", headers={"If-None-Match": css.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    acme = requests.get(f"{base}/assets/brand/acme.css", timeout=10)
    assert acme.status_code == 200 and "--accent:#b0361e;--accent-fg:#ffffff" in acme.text, acme.text
    assert requests.get(f"{base}/assets/brand/nobody.css", timeout=10).status_code == 404
