"""Run tests/federation/provider.mjs (a real node-oidc-provider) and talk to its control API."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from . import leakscan, paths, procs


class OidcProviderError(AssertionError):
    pass


@dataclass
class OidcProvider:
    workdir: Path
    port: int = 0                               # 0: the provider binds a kernel-chosen port (no race)
    client_id: str = "portcullis-test"
    client_secret: str = "portcullis-test-secret"
    audience: str | None = None                 # JWT access-token audience; default = client_id
    alg: str = "RS256"
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    extra_args: tuple[str, ...] = ()
    ready_timeout: float = 60.0
    proc: subprocess.Popen | None = None
    ready_info: dict = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "provider.stderr.log"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "provider.stdout.log"

    def argv(self) -> list[str]:
        node = paths.node_binary()
        if node is None:
            raise OidcProviderError("`node` is not on PATH (Node.js 20+ is needed for tests/federation)")
        argv = [node, str(paths.PROVIDER_SCRIPT), "--host", "127.0.0.1", "--port", str(self.port),
                "--client-id", self.client_id, "--client-secret", self.client_secret, "--alg", self.alg,
                "--access-token-ttl", str(self.access_token_ttl), "--id-token-ttl", str(self.id_token_ttl)]
        if self.audience is not None:
            argv += ["--audience", self.audience]
        return argv + list(self.extra_args)

    def start(self) -> "OidcProvider":
        if not (paths.FEDERATION_DIR / "node_modules" / "oidc-provider").is_dir():
            raise OidcProviderError(
                f"{paths.FEDERATION_DIR}/node_modules is missing: run `npm ci` there (.ci/run does)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        leakscan.register("client_secret", self.client_secret)
        for flag, value in zip(self.extra_args, self.extra_args[1:]):
            if flag.endswith("-secret"):
                leakscan.register("client_secret", value)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=paths.FEDERATION_DIR)

        def announced():
            # The provider prints {"event":"ready","port":…} once it listens (port 0 = kernel's choice).
            try:
                first = self.stdout_path.read_text().splitlines()[0]
                return json.loads(first)
            except (IndexError, ValueError, OSError):
                return None

        info, why = procs.wait_until(announced, timeout=self.ready_timeout, proc=self.proc)
        if why == "ok":
            self.ready_info = info
            self.port = int(info["port"])

            def discovered():
                try:
                    r = requests.get(self.discovery_url, timeout=5)
                    return r.json() if r.status_code == 200 else None
                except (requests.RequestException, ValueError):
                    return None

            _, why = procs.wait_until(discovered, timeout=self.ready_timeout, proc=self.proc)
        if why != "ok":
            if why == "timeout":
                procs.stop_process(self.proc)
            raise OidcProviderError(
                f"OIDC provider did not serve discovery at {self.discovery_url} ({why}, exit "
                f"{self.proc.returncode})\ncommand: {' '.join(self.argv())}\n--- stderr ---\n"
                f"{procs.tail(self.stderr_path)}\n--- stdout ---\n{procs.tail(self.stdout_path)}")
        return self

    def stop(self) -> int | None:
        return procs.stop_process(self.proc, 5) if self.proc is not None else None

    # --- standard OIDC endpoints -----------------------------------------------------------------
    def discovery(self) -> dict:
        r = requests.get(self.discovery_url, timeout=10)
        r.raise_for_status()
        return r.json()

    def jwks(self) -> dict:
        r = requests.get(self.discovery()["jwks_uri"], timeout=10)
        r.raise_for_status()
        return r.json()

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(self.discovery()["userinfo_endpoint"],
                            headers={"Authorization": f"Bearer {access_token}"}, timeout=10)

    def refresh(self, refresh_token: str, **form: str) -> requests.Response:
        """refresh_token grant at the token endpoint (client_secret_basic)."""
        return requests.post(self.discovery()["token_endpoint"],
                             data={"grant_type": "refresh_token", "refresh_token": refresh_token, **form},
                             auth=(self.client_id, self.client_secret), timeout=10)

    # --- control API -----------------------------------------------------------------------------
    def _control(self, path: str, body: dict | None = None) -> Any:
        r = requests.post(f"{self.issuer}/__test/{path}", json=body or {}, timeout=60)
        if r.status_code != 200:
            raise OidcProviderError(f"POST /__test/{path} → HTTP {r.status_code}: {r.text[:2000]}\n"
                                    f"--- provider stderr ---\n{procs.tail(self.stderr_path, 4000)}")
        return r.json()

    def tokens(self, sub: str, email: str | None = None, **kw: Any) -> dict:
        """Genuine tokens from the provider's authorization-code flow for account `sub`.
        kw: email_verified, name, groups, claims (extra userinfo/ID-token claims of the account),
        scope, audience (access-token aud), access_token_format ("jwt"|"opaque"),
        access_token_ttl, id_token_ttl, nonce, client ("main"|"other": minted for a second client). Returns id_token, access_token, refresh_token,
        expires_in, token_type, scope, nonce, id_token_claims, access_token_claims (jwt only)."""
        body = {"sub": sub, **kw}
        if email is not None:
            body["email"] = email
        return self._control("tokens", body)

    def upsert_account(self, sub: str, **claims: Any) -> dict:
        return self._control("accounts", {"sub": sub, **claims})

    def rotate_keys(self, keep_old: bool = False, alg: str | None = None) -> dict:
        body: dict[str, Any] = {"keep_old": keep_old}
        if alg:
            body["alg"] = alg
        return self._control("rotate-keys", body)

    def sign(self, claims: dict | None = None, *, header: dict | None = None, alg: str | None = None,
             key: str = "current", ttl: int | None = None) -> str:
        """Sign arbitrary claims (defaults iss/aud/iat/exp/jti; a None value removes a claim) with
        the published key ("current") or with a key never published ("foreign")."""
        body: dict[str, Any] = {"claims": claims or {}, "key": key}
        if header is not None:
            body["header"] = header
        if alg is not None:
            body["alg"] = alg
        if ttl is not None:
            body["ttl"] = ttl
        return self._control("sign", body)["token"]

    def health(self) -> dict:
        r = requests.get(f"{self.issuer}/__test/health", timeout=10)
        r.raise_for_status()
        return r.json()

    def toml_config(self, alias: str = "test", **overrides: Any) -> str:
        """A [[federation.providers]] table for a Portcullis --config file (docs/design/federation.md);
        overrides are extra top-level keys of the table (strings, numbers, booleans, lists)."""
        client_ids = [self.client_id] + ([self.audience] if self.audience not in (None, self.client_id) else [])
        fields = {"alias": alias, "issuer": self.issuer, "client_ids": client_ids, **overrides}
        lines = ["[[federation.providers]]"]
        for k, v in fields.items():
            lines.append(f"{k} = {json.dumps(v)}")
        return "\n".join(lines) + "\n"
