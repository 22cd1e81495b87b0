"""The HTTP edge as real clients see it: token replies are never cached, a saturated hashing pool
answers "rate limited" at once (Parsable err 503), and /metrics can live on its own listener."""
from __future__ import annotations

import threading

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
