"""The HTTP edge as real clients see it: token replies are never cached, a saturated hashing pool
answers "rate limited" at once (Parsable err 503), /metrics can live on its own listener, slow
clients are cut off and connections per address are capped."""
from __future__ import annotations

import socket
import threading
import time

import requests

from harness.procs import free_port
from harness.server import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD


def _assert_no_store(headers, what: str) -> None:
    assert headers is not None, f"{what}: no headers seen"
    cache = headers.get("Cache-Control", "")
    assert "no-store" in cache, f"{what}: Cache-Control {cache!r}"
    assert headers.get("Pragma", "") == "no-cache", f"{what}: Pragma {headers.get('Pragma')!r}"


def test_token_replies_are_never_cached(server, thrift_stubs):
    with server.thrift(protocol="compact") as tc:
        result = tc.login(DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, None)
        assert result.authToken
        _assert_no_store(tc.last_headers, "Parsable compact login")
    token = result.authToken

    created = server.post("/api/authorization/v1/api-key", json={"apiKeyName": "edge"},
                          headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 200, created.text
    _assert_no_store(created.headers, "Nominal createApiKey")
    exchanged = server.post("/api/api-key-internal/v1/access-token",
                            json={"apiKeyValue": created.json()["apiKeyValue"]})
    assert exchanged.status_code == 200, exchanged.text
    _assert_no_store(exchanged.headers, "Nominal getAccessTokenFromApiKeyValue")

    # Public key material stays cacheable: only secrets are no-store.
    jwks = server.get("/.well-known/jwks.json")
    assert "no-store" not in jwks.headers.get("Cache-Control", "")


def test_a_saturated_hashing_pool_answers_503_at_once(server_factory, thrift_stubs):
    srv = server_factory(config="[core.passwords]\nhash_threads = 1\nhash_queue = 1\n")
    SystemException = thrift_stubs.common.ttypes.SystemException
    codes: list[int] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        with srv.thrift(protocol="compact") as tc:
            try:
                tc.login(f"nobody-{i}@example.com", "not the password", None)
                code = 200
            except SystemException as e:
                code = e.errorCode
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(codes) == 24, codes
    assert set(codes) <= {401, 503}, codes        # wrong password or rate limited, nothing else
    assert 503 in codes, f"a 1-deep queue behind one thread never refused: {codes}"
    assert 401 in codes, f"nothing was hashed at all: {codes}"


def test_metrics_on_their_own_listener(server_factory):
    port = free_port()
    srv = server_factory(env={"PORTCULLIS_METRICS_LISTEN": f"127.0.0.1:{port}"})
    assert srv.get("/metrics").status_code == 404
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert metrics.status_code == 200 and "# TYPE" in metrics.text
    assert srv.get("/healthz").status_code == 200


def _closed_within(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closed `sock` (EOF or reset), or None if not within `limit`."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < limit:
        try:
            data = sock.recv(1024)
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - started
        if not data:
            return time.monotonic() - started
        assert b" 200 " not in data, data
    return None


def test_slow_clients_are_cut_off_and_connections_per_address_capped(server_factory):
    srv = server_factory(config="[server]\nheader_read_timeout_secs = 1\nmax_connections_per_ip = 2\n")
    addr = ("127.0.0.1", srv.port)

    # A client dripping its request head a byte every 100 ms (slowloris) is disconnected.
    drip = socket.create_connection(addr, source_address=("127.0.0.2", 0))
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 200
    stop = threading.Event()

    def dripper() -> None:
        for b in head:
            if stop.is_set():
                return
            try:
                drip.send(bytes([b]))
            except OSError:
                return
            time.sleep(0.1)

    t = threading.Thread(target=dripper)
    t.start()
    took = _closed_within(drip, 6.0)
    stop.set()
    t.join()
    drip.close()
    assert took is not None, "a dripping client is still connected after 6 s"
    assert took >= 0.8, took

    # Two open connections from one address are served; the third is closed unanswered.
    held = []
    for _ in range(2):
        s = requests.Session()
        s.mount("http://", _SourceAdapter("127.0.0.3"))
        assert s.get(f"{srv.base_url}/healthz", timeout=5).status_code == 200
        held.append(s)
    third = socket.create_connection(addr, source_address=("127.0.0.3", 0))
    third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _closed_within(third, 3.0) is not None
    third.close()
    # Another address is unaffected.
    assert srv.get("/healthz").status_code == 200
    for s in held:
        s.close()


class _SourceAdapter(requests.adapters.HTTPAdapter):
    """Connects from a given loopback address (Linux routes all of 127/8 to loopback)."""

    def __init__(self, source: str) -> None:
        self._source = source
        super().__init__(pool_maxsize=1)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)
