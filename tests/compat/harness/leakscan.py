"""No secrets in logs (issue 20, item 6): a session-wide registry of every secret the suite creates or
receives, a record of every server log file, and a scanner that looks for the one in the other.

Secrets are registered centrally, never by the tests themselves:
* `install()` wraps `requests.Session.send` (every HTTP call of the suite: plain `requests`, the conjure
  clients, the OIDC provider's control API) and registers secret-looking JSON fields of the request
  and the response bodies, and the credentials of `Authorization`/`Idp-Authorization` headers;
* `harness.clients.ThriftClient` registers its header tokens, the password-like arguments of every RPC
  and the token-like fields of every result;
* `harness.server` registers bootstrap passwords, secrets in `--config` files, the master key file;
* `harness.admin_cli` registers passwords sent on stdin and secrets in the CLI's JSON output;
* `harness.oidc` registers the provider's client secrets.

`scan()` reads every recorded log line by line and reports (kind, file, line, sha256 prefix) for each
registered secret found, and for JWTs also for their signature part alone. The secret itself is never
printed. conftest.py runs it at the end of the session (`pytest_sessionfinish`) and fails the run on a hit.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

MIN_LEN = 6                                   # shorter strings would match by chance

_lock = threading.Lock()
_secrets: dict[str, str] = {}                 # value -> kind
_logs: list[Path] = []

# JSON field names (lower-cased, `_` removed) -> kind. Compared on the normalised key.
_FIELD_KINDS = {
    "password": "password", "newpassword": "password", "currentpassword": "password",
    "oldpassword": "password", "adminpassword": "password",
    "apikeyvalue": "api_key",
    "authtoken": "session_token", "accesstoken": "access_token", "token": "token",
    "persistenttoken": "persistent_token", "createteamtoken": "persistent_token",
    "idtoken": "upstream_id_token", "refreshtoken": "upstream_refresh_token",
    "resetcode": "reset_code",
    "userprivatekey": "private_key", "privatekey": "private_key",
    "clientsecret": "client_secret", "sharedsecret": "sandbox_shared_secret", "secret": "secret",
}
# The OIDC provider's snake_case fields are upstream (provider-issued) tokens.
_SNAKE_KINDS = {"access_token": "upstream_access_token", "id_token": "upstream_id_token",
                "refresh_token": "upstream_refresh_token"}


def _kind_of_field(name: str) -> str | None:
    if name in _SNAKE_KINDS:
        return _SNAKE_KINDS[name]
    return _FIELD_KINDS.get(name.replace("_", "").replace("-", "").lower())


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def register(kind: str, value: Any) -> None:
    """Register one secret (strings shorter than MIN_LEN are ignored). A JWT also registers its
    signature alone (kind `<kind>/signature`)."""
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < MIN_LEN:
        return
    with _lock:
        _secrets.setdefault(value, kind)
        parts = value.split(".")
        if len(parts) == 3 and all(parts) and len(parts[2]) >= 16:
            _secrets.setdefault(parts[2], f"{kind}/signature")


def register_json(obj: Any) -> None:
    """Walk decoded JSON (or a TOML table) and register the values of secret-looking fields, and any
    `nominal_api_key_…` string wherever it is."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            kind = _kind_of_field(str(k))
            if kind and isinstance(v, str):
                register(kind, v)
            else:
                register_json(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            register_json(v)
    elif isinstance(obj, str) and obj.startswith("nominal_api_key_"):
        register("api_key", obj)


def register_object(obj: Any, depth: int = 0) -> None:
    """Walk a Thrift result (objects with __dict__) and register secret-looking attributes."""
    if depth > 6 or obj is None:
        return
    if isinstance(obj, str):
        register_json(obj)
    elif isinstance(obj, (Mapping, list, tuple, set)):
        for v in (obj.values() if isinstance(obj, Mapping) else obj):
            register_object(v, depth + 1)
    elif hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            kind = _kind_of_field(k)
            if kind and isinstance(v, str):
                register(kind, v)
            else:
                register_object(v, depth + 1)


def register_authorization(value: str | bytes | None) -> None:
    """`Bearer <t>` / `Token <t>` / `Basic <b64 id:secret>` header values."""
    if value is None:
        return
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    scheme, _, cred = value.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            _, _, secret = base64.b64decode(cred).decode().partition(":")
            register("client_secret", secret)
        except (ValueError, UnicodeDecodeError):
            pass
    elif scheme.lower() in ("bearer", "token"):
        register("token", cred)


def register_body(body: Any, content_type: str | None = None) -> None:
    if body is None:
        return
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return
    if not isinstance(body, str):
        return
    text = body.strip()
    if text[:1] in ("{", "["):
        try:
            register_json(json.loads(text))
        except ValueError:
            pass
    elif content_type and "x-www-form-urlencoded" in content_type:
        from urllib.parse import parse_qsl
        register_json(dict(parse_qsl(text)))


def register_pem_private_key(pem: str | bytes, kind: str = "private_key") -> None:
    """Each base64 line of a PEM private key (a log would break it into lines anyway)."""
    if isinstance(pem, bytes):
        pem = pem.decode()
    for line in pem.splitlines():
        if line and not line.startswith("-----") and len(line) >= 16:
            register(kind, line)


def register_private_key(key: Any, kind: str = "csr_private_key") -> None:
    """A `cryptography` private key object (e.g. the key behind a CSR a test sends)."""
    from cryptography.hazmat.primitives import serialization
    register_pem_private_key(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), kind)


def register_log(path: Path) -> None:
    with _lock:
        if path not in _logs:
            _logs.append(Path(path))


def secrets_by_kind() -> dict[str, int]:
    out: dict[str, int] = {}
    with _lock:
        for kind in _secrets.values():
            out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items()))


def logs() -> list[Path]:
    with _lock:
        return list(_logs)


@dataclass(frozen=True)
class Hit:
    kind: str
    path: Path
    line: int
    fingerprint: str                     # sha256 prefix of the secret, never the secret

    def __str__(self) -> str:
        return f"{self.kind} (sha256 {self.fingerprint}…) in {self.path}:{self.line}"


def scan(paths: Iterable[Path] | None = None, secrets: Mapping[str, str] | None = None) -> list[Hit]:
    """Every (secret, log line) match. Defaults: every recorded log, every registered secret."""
    with _lock:
        table = dict(_secrets if secrets is None else secrets)
        files = list(_logs if paths is None else paths)
    hits: list[Hit] = []
    for path in files:
        try:
            text = Path(path).read_text("utf-8", errors="replace")
        except OSError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            for value, kind in table.items():
                if value in line:
                    hits.append(Hit(kind, Path(path), lineno, fingerprint(value)))
    return hits


def report(hits: list[Hit]) -> str:
    lines = [f"{len(hits)} secret(s) found in server logs:"] + [f"  {h}" for h in hits]
    return "\n".join(lines)


_installed = False


def install() -> None:
    """Wrap requests.Session.send once per process (idempotent)."""
    global _installed
    if _installed:
        return
    import requests

    original = requests.Session.send

    def send(self, request, **kwargs):
        try:
            register_authorization(request.headers.get("Authorization"))
            register_authorization(request.headers.get("Idp-Authorization"))
            register_body(request.body, request.headers.get("Content-Type"))
        except Exception:                 # the registry must never break a test
            pass
        response = original(self, request, **kwargs)
        try:
            if not kwargs.get("stream"):
                register_body(response.content, response.headers.get("Content-Type"))
        except Exception:
            pass
        return response

    requests.Session.send = send
    _installed = True
