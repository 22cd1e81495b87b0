"""Run tests/federation/rp.mjs: a relying party on npm `openid-client` driving headless Chromium.

It listens before it knows its provider, so the client can be registered with its exact
back-channel URI (no port race): `start()` returns its URIs, `run(spec)` the flow's summary.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import leakscan, paths, procs

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
RP_SCRIPT = paths.FEDERATION_DIR / "rp.mjs"


class RelyingPartyError(AssertionError):
    pass


@dataclass
class RelyingParty:
    workdir: Path
    ready_timeout: float = 30.0
    proc: subprocess.Popen | None = None
    uris: dict = field(default_factory=dict)

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "rp.stderr.log"

    def _fail(self, message: str) -> RelyingPartyError:
        return RelyingPartyError(f"{message}\n--- rp.mjs stderr ---\n{procs.tail(self.stderr_path, 6000)}")

    def start(self) -> dict:
        """Starts the script; answers its redirect_uri, post_logout_redirect_uri, backchannel_logout_uri."""
        if not Path(CHROMIUM).exists():
            raise RelyingPartyError(f"{CHROMIUM} is missing: install the Debian package `chromium`")
        for module in ("openid-client", "jose", "playwright-core"):
            if not (paths.FEDERATION_DIR / "node_modules" / module).is_dir():
                raise RelyingPartyError(f"{paths.FEDERATION_DIR}/node_modules/{module} is missing: run `npm ci` there")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([paths.node_binary() or "node", str(RP_SCRIPT)], cwd=paths.FEDERATION_DIR,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                         env={**os.environ, "CHROMIUM_BIN": CHROMIUM})
        ready, _, _ = select.select([self.proc.stdout], [], [], self.ready_timeout)
        line = self.proc.stdout.readline() if ready else ""
        try:
            info = json.loads(line)
        except ValueError:
            self.stop()
            raise self._fail(f"rp.mjs did not announce itself within {self.ready_timeout:.0f}s: {line!r}") from None
        assert info.get("event") == "ready", info
        self.uris = info
        return info

    def run(self, spec: dict, timeout: float = 120.0) -> dict:
        """Sends the spec (issuer, client, user); answers the summary. A failed flow fails the test
        with the step it reached, the page it was on and the browser's console errors."""
        assert self.proc is not None, "start() first"
        t0 = time.monotonic()
        try:
            out, _ = self.proc.communicate(json.dumps(spec) + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise self._fail(f"rp.mjs did not finish within {timeout:.0f}s") from None
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise self._fail(f"rp.mjs exited {self.proc.returncode} without a summary")
        summary = json.loads(lines[-1])
        summary["elapsed_secs"] = round(time.monotonic() - t0, 2)
        # Everything the RP received is a secret the server must never log.
        for kind, values in summary.pop("secrets", {}).items():
            for value in values if isinstance(values, list) else [values]:
                leakscan.register(f"rp_{kind}", value)
        if "failure" in summary:
            raise self._fail("the relying party's flow failed:\n" + json.dumps(summary, indent=2))
        return summary

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop_process(self.proc, 5)
