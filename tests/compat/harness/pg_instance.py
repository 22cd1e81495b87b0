"""A private PostgreSQL server for one test, which the test may stop and start at will.

The machine's shared cluster ($PORTCULLIS_TEST_POSTGRES_URL) serves every other test and process,
so the outage tests never stop it: they run Debian's `initdb` and `pg_ctl` on a fresh data
directory in a temp dir, listening on a kernel-chosen loopback port with its socket in that dir.
`initdb` refuses to run as root, so under root every PostgreSQL command runs as the `postgres`
user (`runuser`), which then owns the temp dir.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import procs


class PgInstanceError(RuntimeError):
    pass


def pg_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<v>/bin holding initdb and pg_ctl, or $PORTCULLIS_PG_BINDIR."""
    override = os.environ.get("PORTCULLIS_PG_BINDIR")
    if override:
        return Path(override)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


class PgInstance:
    """initdb on first start(); stop(mode) / start() keep the data directory; destroy() removes it.

    url(db) is `postgres://postgres@127.0.0.1:<port>/<db>` (trust authentication, loopback only)."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or pg_bindir()
        if self.bindir is None or not (self.bindir / "initdb").exists():
            raise PgInstanceError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); "
                                  "install the Debian package `postgresql`")
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="portcullis-pg-"))
        if self.run_as is not None:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = procs.free_port()
        self.initialised = False

    # --- commands ----------------------------------------------------------------------------------
    def _cmd(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = [str(self.bindir / tool), *args]
        if self.run_as is not None:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            raise PgInstanceError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}\n"
                                  f"--- postgres log ---\n{self.log_text()}")

    def log_text(self, limit: int = 4000) -> str:
        return procs.tail(self.log, limit)

    def url(self, db: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "PgInstance":
        if not self.initialised:
            self._check(self._cmd("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                                  "-E", "UTF8", "--no-instructions", timeout=120), "initdb")
            self.initialised = True
        for attempt in range(3):
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                       "-c max_connections=100 -c shared_buffers=16MB")
            proc = self._cmd("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                             "-t", str(int(timeout)), "-o", options, timeout=timeout + 10)
            if proc.returncode == 0:
                return self
            # The port was taken between the choice and the bind: pick another one.
            if attempt < 2 and "already in use" in self.log_text():
                self.port = procs.free_port()
                continue
            self._check(proc, "pg_ctl start")
        return self

    def stop(self, mode: str = "immediate", timeout: float = 60) -> float:
        """pg_ctl stop -m <mode> (smart|fast|immediate). Returns the wall time it took."""
        t0 = time.monotonic()
        self._check(self._cmd("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w",
                              "-t", str(int(timeout)), timeout=timeout + 10), "pg_ctl stop")
        return time.monotonic() - t0

    def running(self) -> bool:
        return self.initialised and self._cmd("pg_ctl", "status", "-D", str(self.data)).returncode == 0

    def psql(self, sql: str, db: str = "postgres") -> list[list[str]]:
        """Runs sql with psql; returns the rows (fields split on '|')."""
        psql = shutil.which("psql")
        if psql is None:
            raise PgInstanceError("psql is not on PATH (Debian postgresql-client)")
        proc = subprocess.run([psql, self.url(db), "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise PgInstanceError(f"psql failed ({proc.returncode}): {proc.stderr.strip()}")
        return [line.split("|") for line in proc.stdout.splitlines() if line]

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        except (PgInstanceError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
