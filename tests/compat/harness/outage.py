"""Load, answer classification and measurements for the failure tests (issue 20 items 3 and 4):
`test_outage.py` (the database stops, SQLite turns read-only) and `test_node_loss.py` (one of two
servers is SIGKILLed).

Every call is recorded with its start and end time and one outcome:
  ok           the request succeeded;
  unavailable  the surface's own "unavailable, retry" answer: Parsable err 503 slug `unavailable`,
               Nominal HTTP 503 `Default:Unavailable` with `Retry-After`, account HTTP 503 problem
               `unavailable` with `Retry-After`;
  refused      a well-formed refusal of the credential (revoked, unknown);
  throttled    the surface's "slow down" answer (Parsable err 503 `rate-limited`, HTTP 429): the
               password check of an account is claimed by one attempt at a time, for up to 10 s
               when the attempt dies with the database (docs/design/lockout.md);
  error        anything else: a 500, the bare 503 of the request timeout, a malformed answer, a
               timeout or a dropped connection.
"""
from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from .clients import USER_AGENT

# The tests run the server with this request timeout; no answer may take longer.
REQUEST_TIMEOUT_SECS = 10
SERVER_CONFIG = f"""
[server]
request_timeout_secs = {REQUEST_TIMEOUT_SECS}

[core.rate_limit]
per_ip_per_sec = 100000
burst = 100000
"""
CLIENT_TIMEOUT = REQUEST_TIMEOUT_SECS + 20


@dataclass
class Call:
    op: str
    node: str
    t0: float
    t1: float
    outcome: str
    detail: str = ""
    subject: str = ""           # what the call was about (a session id, a key id), when it matters

    @property
    def latency(self) -> float:
        return self.t1 - self.t0


@dataclass
class Answer:
    outcome: str
    value: Any = None
    detail: str = ""


class Recorder:
    """Thread-safe log of calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def timed(self, op: str, node: str, fn: Callable[[], Answer], subject: str = "") -> Answer:
        t0 = time.monotonic()
        answer = fn()
        with self._lock:
            self._calls.append(Call(op, node, t0, time.monotonic(), answer.outcome, answer.detail, subject))
        return answer

    def calls(self, *, since: float | None = None, until: float | None = None, node: str | None = None,
              outcome: str | None = None) -> list[Call]:
        with self._lock:
            calls = list(self._calls)
        return [c for c in calls
                if (since is None or c.t0 >= since) and (until is None or c.t0 < until)
                and (node is None or c.node == node) and (outcome is None or c.outcome == outcome)]

    def counts(self, calls: list[Call]) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in calls:
            out[c.outcome] = out.get(c.outcome, 0) + 1
        return out

    def describe(self, calls: list[Call], limit: int = 10) -> str:
        return "\n".join(f"  {c.op}@{c.node} {c.subject} +{c.latency:.3f}s {c.outcome}: {c.detail[:300]}"
                         for c in calls[:limit])


def _exception(e: Exception) -> Answer:
    return Answer("error", None, f"{type(e).__name__}: {e}")


def _json(r: requests.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


# --- one request per surface, classified ---------------------------------------------------------

def parsable(base_url: str, method: str, arguments: dict | None = None, token: str | None = None,
             session: requests.Session | None = None) -> Answer:
    """A Parsable JSON call; value = the `success` member (None for void results)."""
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    body: dict[str, Any] = {"method": method}
    if arguments is not None:
        body["arguments"] = arguments
    try:
        r = (session or requests).post(base_url + "/api/auth", json=body, headers=headers, timeout=CLIENT_TIMEOUT)
    except requests.RequestException as e:
        return _exception(e)
    reply = _json(r)
    if r.status_code != 200 or not isinstance(reply, dict):
        return Answer("error", None, f"HTTP {r.status_code}: {r.text[:200]}")
    result = reply.get("result") or {}
    err = result.get("err")
    if err is None and "exception" not in reply:
        return Answer("ok", result.get("success"))
    if err and err.get("errorCode") == 503 and err.get("slug") == "unavailable":
        return Answer("unavailable", None, err.get("message", ""))
    if err and err.get("errorCode") == 503 and err.get("slug") == "rate-limited":
        return Answer("throttled", None, err.get("message", ""))
    if err and err.get("errorCode") in (401, 497):
        return Answer("refused", None, f"err {err.get('errorCode')} {err.get('slug')}")
    return Answer("error", None, f"{reply}"[:300])


def _unavailable_conjure(r: requests.Response) -> bool:
    body = _json(r)
    return (r.status_code == 503 and isinstance(body, dict) and body.get("errorName") == "Default:Unavailable"
            and r.headers.get("Retry-After") is not None)


def nominal(base_url: str, path: str, json_body: Any, token: str | None = None, *, method: str = "POST",
            session: requests.Session | None = None) -> Answer:
    """A Nominal (Conjure) call under /api; value = the decoded JSON body (None for 204)."""
    headers = {"User-Agent": USER_AGENT}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        r = (session or requests).request(method, base_url + "/api" + path, json=json_body, headers=headers,
                                          timeout=CLIENT_TIMEOUT)
    except requests.RequestException as e:
        return _exception(e)
    if r.status_code in (200, 204):
        return Answer("ok", _json(r) if r.status_code == 200 else None)
    if _unavailable_conjure(r):
        return Answer("unavailable", None, r.text[:200])
    if r.status_code == 403:
        return Answer("refused", None, r.text[:200])
    if r.status_code == 429:
        return Answer("throttled", None, r.text[:200])
    return Answer("error", None, f"HTTP {r.status_code} {r.headers.get('Content-Type')}: {r.text[:200]}")


def account(base_url: str, path: str, token: str, *, method: str = "GET",
            session: requests.Session | None = None) -> Answer:
    """An account API call (problem+json errors); value = the decoded JSON body."""
    try:
        r = (session or requests).request(method, base_url + path, headers={"Authorization": f"Bearer {token}",
                                                                           "User-Agent": USER_AGENT},
                                          timeout=CLIENT_TIMEOUT)
    except requests.RequestException as e:
        return _exception(e)
    body = _json(r)
    if r.status_code in (200, 204):
        return Answer("ok", body)
    if (r.status_code == 503 and r.headers.get("Content-Type") == "application/problem+json"
            and isinstance(body, dict) and body.get("code") == "unavailable" and r.headers.get("Retry-After")):
        return Answer("unavailable", None, r.text[:200])
    if r.status_code == 401:
        return Answer("refused", None, r.text[:200])
    if r.status_code == 429:
        return Answer("throttled", None, r.text[:200])
    return Answer("error", None, f"HTTP {r.status_code} {r.headers.get('Content-Type')}: {r.text[:200]}")


def ready(base_url: str) -> bool | None:
    """True/False: /readyz answered 200/503; None: no answer."""
    try:
        return requests.get(base_url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return None


# --- what the load was told was written ----------------------------------------------------------

@dataclass
class Acks:
    """Writes acknowledged to a client (thread-safe): logins, API keys, revocations."""
    sessions: dict[str, str] = field(default_factory=dict)        # session id -> token
    keys: dict[str, str] = field(default_factory=dict)            # key rid -> secret
    logged_out: dict[str, str] = field(default_factory=dict)      # session id -> token
    revoked_keys: dict[str, str] = field(default_factory=dict)    # key rid -> secret
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, key: str, value: str) -> None:
        with self.lock:
            getattr(self, kind)[key] = value

    def snapshot(self) -> dict[str, dict[str, str]]:
        with self.lock:
            return {k: dict(getattr(self, k)) for k in ("sessions", "keys", "logged_out", "revoked_keys")}


# --- load -----------------------------------------------------------------------------------------

class Load:
    """Worker threads, each calling `step()` in a loop until stopped; the steps record their calls."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.failures: list[str] = []

    def run(self, name: str, step: Callable[[], None], pause: float = 0.0) -> None:
        def loop() -> None:
            while not self.stop_event.is_set():
                try:
                    step()
                except Exception as e:  # a bug in the step: fail the test, do not hang it
                    self.failures.append(f"{name}: {type(e).__name__}: {e}")
                    return
                if pause:
                    self.stop_event.wait(pause)
        t = threading.Thread(target=loop, name=name, daemon=True)
        self.threads.append(t)
        t.start()

    def stop(self, timeout: float = CLIENT_TIMEOUT + 5) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
        alive = [t.name for t in self.threads if t.is_alive()]
        assert not alive, f"load threads still running: {alive}"
        assert not self.failures, f"load steps failed: {self.failures}"


def poll(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05) -> tuple[Any, float]:
    """Calls predicate until it returns a truthy value; (value, seconds waited). Value None on timeout."""
    t0 = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value, time.monotonic() - t0
        if time.monotonic() - t0 >= timeout:
            return None, time.monotonic() - t0
        time.sleep(interval)


def latency_summary(calls: list[Call]) -> str:
    if not calls:
        return "none"
    lat = sorted(c.latency for c in calls)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return (f"n={len(lat)} median={statistics.median(lat) * 1000:.0f}ms p99={p(0.99) * 1000:.0f}ms "
            f"max={lat[-1] * 1000:.0f}ms")


def report(request, title: str, figures: dict[str, Any]) -> None:
    """Prints the measured figures in the test output (also with -q) and keeps them on the report."""
    lines = [f"{title}:"] + [f"  {k}: {v}" for k, v in figures.items()]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    text = "\n".join(lines)
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)
    else:
        print(text)
    request.node.user_properties.append((title, figures))
