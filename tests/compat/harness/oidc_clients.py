"""Portcullis as an OpenID provider, from the relying party's side (docs/design/oidc-provider.md):
clients declared in the server's TOML (`[[core.oidc.clients]]`), a provider server whose issuer is
its own address, a test user, and the sign-in a browser does, done with `requests` (no browser).
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs, urljoin, urlparse

import requests

from . import leakscan

# The sign-in page throttles per IP; every test here signs in from 127.0.0.1.
RATE_LIMIT_TOML = "[core.rate_limit]\nper_ip_per_sec = 1000\nburst = 1000\n"
USER_PASSWORD = "relying party password 9"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
PENDING_FIELD = re.compile(r'name="r" value="([^"]+)"')


def toml_value(v: Any) -> str:
    """A TOML value for a bool, int, string, list or (inline) table."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v))          # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def client_toml(**fields: Any) -> str:
    """One `[[core.oidc.clients]]` table (fields as in crates/core/src/oidc/declared.rs; None skipped)."""
    lines = ["[[core.oidc.clients]]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"


def secret_file(directory: Path, name: str) -> tuple[Path, str]:
    """A generated client secret in a file for `secret_file` (registered for the log scan)."""
    secret = secrets.token_urlsafe(32)
    leakscan.register("client_secret", secret)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.secret"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path, secret


def start_provider(server_factory, config: str):
    """A server whose public URL (the issuer) is its own loopback address."""
    srv = server_factory(config=RATE_LIMIT_TOML + config, start=False)
    srv.env["PORTCULLIS_PUBLIC_URL"] = srv.base_url
    return srv.start()


def add_user(srv, email: str, *, name: str = "Ada Lovelace", org: str = "acme") -> str:
    """A validated user with USER_PASSWORD, the only member of `org` (so no org page)."""
    srv.admin.create_user(email, name=name, password=USER_PASSWORD)
    srv.admin.create_org(org)
    srv.admin.add_member(org, email, "AUTHOR")
    return email


@dataclass
class Redirect:
    """Where the provider sent the browser in the end: the client's redirect URI and its query."""
    url: str
    params: dict[str, str]
    consent_shown: bool


def _form_value(pattern: re.Pattern, html: str, what: str) -> str:
    m = pattern.search(html)
    assert m, f"no {what} in the page:\n{html[:2000]}"
    return m.group(1)


def sign_in_without_browser(issuer: str, authorization_url: str, email: str, password: str, *,
                            allow_consent: bool = True, browser: requests.Session | None = None,
                            ) -> Redirect:
    """What a browser does: authorize → /login (form, CSRF cookie) → resume → [consent] → the final
    303 to the client, whose Location is returned without being followed."""
    b = browser or requests.Session()
    headers = {"Origin": issuer}
    r = b.get(authorization_url, allow_redirects=False, timeout=30)
    consent_shown = False
    for _ in range(8):
        assert r.status_code in (200, 303), f"{r.status_code} at {r.url}:\n{r.text[:2000]}"
        if r.status_code == 303:
            location = urljoin(r.url, r.headers["Location"])
            if not location.startswith(issuer + "/"):
                params = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
                if "code" in params:
                    leakscan.register("authorization_code", params["code"])
                for name in ("portcullis-session", "__Host-portcullis-session"):
                    leakscan.register("session_token", b.cookies.get(name))
                return Redirect(location, params, consent_shown)
            r = b.get(location, allow_redirects=False, timeout=30)
        elif 'id="error"' in r.text:
            raise AssertionError(f"refused at {r.url} ({r.status_code}):\n{r.text[:2000]}")
        elif 'id="password"' in r.text:
            form = {"email": email, "password": password, "csrf": _form_value(CSRF_FIELD, r.text, "csrf"),
                    "r": _form_value(PENDING_FIELD, r.text, "pending request")}
            r = b.post(issuer + "/login", data=form, headers=headers, allow_redirects=False, timeout=30)
        elif 'id="allow"' in r.text and allow_consent:
            consent_shown = True
            form = {"csrf": _form_value(CSRF_FIELD, r.text, "csrf"),
                    "r": _form_value(PENDING_FIELD, r.text, "pending request"), "decision": "allow"}
            r = b.post(issuer + "/oauth2/authorize/decide", data=form, headers=headers,
                       allow_redirects=False, timeout=30)
        else:
            raise AssertionError(f"unexpected page at {r.url}:\n{r.text[:2000]}")
    raise AssertionError("the authorization did not end in a redirect to the client")
