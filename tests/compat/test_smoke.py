"""First contact with the real server: it starts, reports healthy and ready, and stops cleanly."""


def test_healthz_and_readyz(server):
    for path in ("/healthz", "/readyz"):
        r = server.get(path)
        assert r.status_code == 200, f"{path}: HTTP {r.status_code}: {r.text[:300]}"


def test_stops_on_sigterm(server):
    assert server.running
    assert server.stop() == 0, f"non-zero exit on SIGTERM\n{server.stderr_text()}"
