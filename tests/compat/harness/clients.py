"""Client helpers for both APIs: Nominal (conjure-python-client), Parsable Thrift (compact, TJSON)
and the Parsable JSON envelope (plain requests).

Credentials: `token` goes out as `Authorization: Token <token>` (Parsable) and `idp_token` as
`Idp-Authorization: Bearer <idp_token>`. Nominal generated methods take the complete Authorization
header value: pass `bearer(token)`.
"""
from __future__ import annotations

from typing import Any, Mapping

import requests

from . import leakscan

MOTHERSHIP_COMPACT = "application/vnd.mothership.v1+x-thrift-compact"
THRIFT_JSON = "application/vnd.apache.thrift.json"
USER_AGENT = "portcullis-compat-tests/0.1"


def bearer(token: str) -> str:
    """The Authorization header value the Nominal generated clients expect."""
    return f"Bearer {token}"


def auth_headers(token: str | None = None, idp_token: str | None = None,
                 headers: Mapping[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    if token is not None:
        out["Authorization"] = f"Token {token}"
    if idp_token is not None:
        out["Idp-Authorization"] = f"Bearer {idp_token}"
    if headers:
        out.update(headers)
    return out


# --- Nominal -------------------------------------------------------------------------------------

def nominal_client(service_class, api_url: str, *, user_agent: str = USER_AGENT,
                   connect_timeout: float = 5, read_timeout: float = 30):
    """A conjure RequestsClient for a nominal_api service class, e.g.
    nominal_client(AuthorizationService, server.api_url). No retries: failures surface at once."""
    from conjure_python_client import RequestsClient, ServiceConfiguration

    cfg = ServiceConfiguration(uris=[api_url], connect_timeout=connect_timeout,
                               read_timeout=read_timeout, max_num_retries=0)
    return RequestsClient.create(service_class, user_agent, cfg)


# --- Parsable Thrift -----------------------------------------------------------------------------

class ThriftClient:
    """An AuthenticationService.Client over THttpClient. Use as a context manager or call close().

    protocol: "compact" (TCompactProtocol, sends the mothership Content-Type like Parsable's Java
    client; Python's THttpClient also sends its own `application/x-thrift`) or "json"
    (TJSONProtocol; content_type=None keeps only `application/x-thrift`, as Apache's Python client
    does; pass THRIFT_JSON to send the Apache JS client's type as well).
    """

    _DEFAULT_CT = object()

    def __init__(self, stubs, auth_url: str, *, protocol: str = "compact", token: str | None = None,
                 idp_token: str | None = None, headers: Mapping[str, str] | None = None,
                 content_type: Any = _DEFAULT_CT, timeout_ms: int = 30000):
        from thrift.protocol import TCompactProtocol, TJSONProtocol
        from thrift.transport import THttpClient

        if protocol not in ("compact", "json"):
            raise ValueError("protocol must be 'compact' or 'json'")
        if content_type is self._DEFAULT_CT:
            content_type = MOTHERSHIP_COMPACT if protocol == "compact" else None
        self.transport = THttpClient.THttpClient(auth_url)
        self.transport.setTimeout(timeout_ms)
        custom = auth_headers(token, idp_token, headers)
        _register_headers(custom)
        if content_type is not None:
            custom["Content-Type"] = content_type
        custom.setdefault("User-Agent", USER_AGENT)
        self.transport.setCustomHeaders(custom)
        proto = (TCompactProtocol.TCompactProtocol(self.transport) if protocol == "compact"
                 else TJSONProtocol.TJSONProtocol(self.transport))
        self.client = stubs.AuthenticationService.Client(proto)
        self.transport.open()

    def set_headers(self, token: str | None = None, idp_token: str | None = None,
                    headers: Mapping[str, str] | None = None, content_type: str | None = None) -> None:
        custom = auth_headers(token, idp_token, headers)
        _register_headers(custom)
        if content_type is not None:
            custom["Content-Type"] = content_type
        self.transport.setCustomHeaders(custom)

    @property
    def last_status(self) -> int | None:
        return getattr(self.transport, "code", None)

    @property
    def last_headers(self):
        return getattr(self.transport, "headers", None)

    def __getattr__(self, name: str):     # delegate RPCs: tc.login(email, pw, opts)
        attr = getattr(self.client, name)
        if not callable(attr) or name.startswith(("send_", "recv_", "_")):
            return attr
        return _registering_rpc(attr)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _register_headers(headers: Mapping[str, str]) -> None:
    leakscan.register_authorization(headers.get("Authorization"))
    leakscan.register_authorization(headers.get("Idp-Authorization"))


def _registering_rpc(method):
    """Wrap a Thrift RPC: register password/token-like arguments (by parameter name) and the
    secret-looking fields of its result (leakscan)."""
    import functools
    import inspect

    try:
        params = list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        params = []

    @functools.wraps(method)
    def call(*args, **kwargs):
        named = dict(zip(params, args), **kwargs)
        leakscan.register_object(named)
        for pname, value in named.items():
            kind = leakscan._kind_of_field(pname)
            if kind:
                leakscan.register(kind, value)
        result = method(*args, **kwargs)
        leakscan.register_object(result)
        return result

    return call


# --- Parsable JSON envelope ------------------------------------------------------------------------

def parsable_post(auth_url: str, method: str, arguments: Mapping[str, Any] | None = None, *,
                  token: str | None = None, idp_token: str | None = None,
                  headers: Mapping[str, str] | None = None, body: Any = None,
                  content_type: str | None = "application/json", timeout: float = 30) -> requests.Response:
    """POST one Parsable JSON call ({"method","arguments"}) and return the raw response.
    `body` (str/bytes/dict) replaces the envelope entirely, for malformed-input tests."""
    h = auth_headers(token, idp_token, headers)
    if content_type is not None:
        h.setdefault("Content-Type", content_type)
    h.setdefault("User-Agent", USER_AGENT)
    if body is None:
        payload: Any = {"method": method}
        if arguments is not None:
            payload["arguments"] = arguments
        return requests.post(auth_url, json=payload, headers=h, timeout=timeout)
    if isinstance(body, (dict, list)):
        return requests.post(auth_url, json=body, headers=h, timeout=timeout)
    return requests.post(auth_url, data=body, headers=h, timeout=timeout)


def parsable_call(auth_url: str, method: str, arguments: Mapping[str, Any] | None = None,
                  **kwargs) -> dict:
    """Like parsable_post, but checks HTTP 200 and returns the decoded JSON reply."""
    r = parsable_post(auth_url, method, arguments, **kwargs)
    assert r.status_code == 200, f"{method}: HTTP {r.status_code}: {r.text[:500]}"
    return r.json()
