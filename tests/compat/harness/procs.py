"""Process plumbing shared by the server and OIDC-provider harnesses."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on loopback (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tail(path: Path | None, limit: int = 8000) -> str:
    if path is None or not path.exists():
        return "<no output file>"
    data = path.read_bytes()
    text = data[-limit:].decode("utf-8", errors="replace")
    return ("…" if len(data) > limit else "") + (text if text.strip() else "<empty>")


def stop_process(proc: subprocess.Popen, term_timeout: float = 10.0) -> int | None:
    """SIGTERM, wait up to term_timeout seconds, then SIGKILL. Returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=term_timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)
    except ProcessLookupError:
        return proc.poll()


def wait_until(predicate, *, timeout: float, interval: float = 0.05, proc: subprocess.Popen | None = None):
    """Poll predicate() until it returns a truthy value. Returns (value, reason); reason is
    'ok', 'exited' (proc ended first) or 'timeout'."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            return None, "exited"
        value = predicate()
        if value:
            return value, "ok"
        if time.monotonic() >= deadline:
            return None, "timeout"
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The harness's own configuration must not leak into the process under test by accident.
    for key in list(env):
        if key.startswith("PORTCULLIS_") and not key.startswith("PORTCULLIS_TEST_"):
            if key not in ("PORTCULLIS_BIN",):
                del env[key]
    env.setdefault("RUST_BACKTRACE", "1")
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env
