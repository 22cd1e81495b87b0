"""Durability: SIGKILL the server in the middle of a stream of committed writes, restart it, and find
every acknowledged write present and the store consistent.

The writes are Nominal `createApiKey` calls (one credential row each, committed before the 200);
after the restart every acknowledged key must still exchange for a token.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import requests

from harness.clients import parsable_call


def login(server) -> str:
    reply = parsable_call(server.auth_url, "login",
                          {"email": server.admin_email, "password": server.admin_password})
    if "success" not in reply.get("result", {}):
        pytest.fail(f"admin login failed: {reply}")
    return reply["result"]["success"]["authToken"]


def test_sigkill_mid_write_stream_loses_no_acknowledged_write(server):
    if server.get("/api/authorization/v1/checkAdmin").status_code == 404:
        pytest.skip("the binary does not mount the Nominal router")
    token = login(server)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = session.post(server.api_url + "/authorization/v1/api-key",
                                 json={"apiKeyName": f"w{n}-{i}", "expiresAfterDays": None},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
            except requests.RequestException:
                return  # the server died under us: this write was never acknowledged
            if r.status_code == 200:
                with lock:
                    acked.append(r.json()["apiKeyValue"])
            else:
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if len(acked) >= 40:
                break
        time.sleep(0.01)
    server.proc.kill()  # SIGKILL while the writers are still sending
    server.proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert len(acked) >= 40, f"only {len(acked)} writes acknowledged before the kill"

    # The store file is consistent after the crash.
    dbs = list(server.data_dir.glob("*.db"))
    assert dbs, f"no SQLite file in {server.data_dir}"
    for db in dbs:
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    server.start()
    lost = []
    for value in acked:
        r = requests.post(server.api_url + "/api-key-internal/v1/access-token",
                          json={"apiKeyValue": value}, timeout=10)
        if r.status_code == 429:  # the per-IP limiter; wait and retry once
            time.sleep(float(r.headers.get("Retry-After", "1")))
            r = requests.post(server.api_url + "/api-key-internal/v1/access-token",
                              json={"apiKeyValue": value}, timeout=10)
        if r.status_code != 200:
            lost.append((value[:20], r.status_code))
    assert not lost, f"{len(lost)} acknowledged writes lost after SIGKILL: {lost[:5]}"
