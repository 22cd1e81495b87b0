"""Start and stop a real `portcullis serve` process for a test."""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import requests

from . import clients, leakscan, paths, procs
from .admin_cli import AdminCli

DEFAULT_ADMIN_EMAIL = "admin@portcullis.test"
DEFAULT_ADMIN_PASSWORD = "correct horse battery staple 42"


class ServerStartError(AssertionError):
    pass


@dataclass
class PortcullisServer:
    binary: Path
    workdir: Path                       # per-server temp dir: data/, logs, config
    data_dir: Path
    port: int
    admin_email: str
    admin_password: str
    database_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    extra_args: tuple[str, ...] = ()
    ready_timeout: float = 60.0
    proc: subprocess.Popen | None = None
    starts: int = 0
    run_as: str | None = None           # a user to run as (root only): file modes then bind it

    # --- addresses -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:           # Nominal services live under /api
        return self.base_url + "/api"

    @property
    def auth_url(self) -> str:          # Parsable AuthenticationService endpoint
        return self.base_url + "/api/auth"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"stdout.{self.starts}.log"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"stderr.{self.starts}.log"

    def stderr_text(self, limit: int = 8000) -> str:
        return procs.tail(self.stderr_path, limit)

    # --- lifecycle -------------------------------------------------------------------------------
    def argv(self) -> list[str]:
        argv = [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        if self.database_url:
            argv += ["--database-url", self.database_url]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        return argv + list(self.extra_args)

    def process_env(self) -> dict[str, str]:
        return procs.base_env({
            "PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL": self.admin_email,
            "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
            **self.env,
        })

    def start(self) -> "PortcullisServer":
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self.starts += 1
        leakscan.register("password", self.admin_password)
        leakscan.register_log(self.stdout_path)
        leakscan.register_log(self.stderr_path)
        identity = {} if self.run_as is None else {"user": self.run_as, "group": self.run_as_group(),
                                                     "extra_groups": []}
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=self.process_env(), cwd=self.workdir, **identity)
        try:
            self._wait_ready()
        finally:
            self.register_master_key()
        return self

    def run_as_group(self) -> int:
        import pwd
        return pwd.getpwnam(self.run_as).pw_gid

    def register_master_key(self) -> None:
        """The master key (file in the data dir, or PORTCULLIS_MASTER_KEY) is a secret of the suite."""
        leakscan.register("master_key", self.env.get("PORTCULLIS_MASTER_KEY"))
        try:
            leakscan.register("master_key", (self.data_dir / "master.key").read_text())
        except OSError:
            pass

    def _ready(self) -> bool:
        try:
            return requests.get(self.base_url + "/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _wait_ready(self) -> None:
        t0 = time.monotonic()
        _, why = procs.wait_until(self._ready, timeout=self.ready_timeout, proc=self.proc)
        if why == "ok":
            return
        if why == "exited":
            msg = f"portcullis exited with code {self.proc.returncode} before /readyz answered 200"
        else:
            msg = f"portcullis did not answer 200 on {self.base_url}/readyz within {self.ready_timeout:.0f}s"
            procs.stop_process(self.proc)
        raise ServerStartError(
            f"{msg} (after {time.monotonic() - t0:.1f}s)\ncommand: {' '.join(self.argv())}\n"
            f"--- server stderr ({self.stderr_path}) ---\n{self.stderr_text()}\n"
            f"--- server stdout ---\n{procs.tail(self.stdout_path, 2000)}")

    def stop(self, term_timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after term_timeout. Returns the exit code (None if never started)."""
        if self.proc is None:
            return None
        return procs.stop_process(self.proc, term_timeout)

    def restart(self) -> "PortcullisServer":
        """Stop and start again on the same port, data dir and database (persistence tests)."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # --- helpers ---------------------------------------------------------------------------------
    @property
    def admin(self) -> AdminCli:
        return AdminCli(self.binary, self.data_dir, self.database_url, self.process_env(), self.config_path)

    def cli(self, *args: str, check: bool = True, input: str | None = None) -> Any:
        """`portcullis admin --data-dir … --json ARGS` → parsed JSON."""
        return self.admin(*args, check=check, input=input)

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.get(self.base_url + path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.post(self.base_url + path, **kw)

    def nominal(self, service_class, **kw):
        """conjure RequestsClient for a nominal_api service class against {base_url}/api."""
        return clients.nominal_client(service_class, self.api_url, **kw)

    def thrift(self, protocol: str = "compact", **kw) -> clients.ThriftClient:
        """AuthenticationService client (protocol "compact" or "json"); kw: token, idp_token, headers,
        content_type."""
        from . import thrift_stubs
        return clients.ThriftClient(thrift_stubs.generate(), self.auth_url, protocol=protocol, **kw)

    def parsable_post(self, method: str, arguments: Mapping[str, Any] | None = None, **kw) -> requests.Response:
        return clients.parsable_post(self.auth_url, method, arguments, **kw)

    def parsable_call(self, method: str, arguments: Mapping[str, Any] | None = None, **kw) -> dict:
        return clients.parsable_call(self.auth_url, method, arguments, **kw)


def register_config_secrets(config: str) -> None:
    """Secrets in a --config file (sandbox shared secret, upstream client secrets, …)."""
    import tomllib
    try:
        leakscan.register_json(tomllib.loads(config))
    except tomllib.TOMLDecodeError:
        pass


def binary_or_fail() -> Path:
    binary = paths.portcullis_binary()
    if not binary.exists():
        raise ServerStartError(
            f"server binary {binary} not found: build it with `cargo build -p portcullis` "
            "(scripts/test-all does) or set PORTCULLIS_BIN")
    return binary


def make_server(workdir: Path, *, database_url: str | None = None, env: Mapping[str, str] | None = None,
                config: str | None = None, admin_email: str = DEFAULT_ADMIN_EMAIL,
                admin_password: str = DEFAULT_ADMIN_PASSWORD, extra_args: tuple[str, ...] = (),
                ready_timeout: float = 60.0, port: int | None = None, binary: Path | None = None,
                ) -> PortcullisServer:
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    config_path = None
    if config is not None:
        config_path = workdir / "portcullis.toml"
        config_path.write_text(config)
        register_config_secrets(config)
    return PortcullisServer(
        binary=binary or binary_or_fail(), workdir=workdir, data_dir=data_dir,
        port=port or procs.free_port(), admin_email=admin_email, admin_password=admin_password,
        database_url=database_url, env=dict(env or {}), config_path=config_path,
        extra_args=tuple(extra_args), ready_timeout=ready_timeout)


def start_with_port_retry(srv: PortcullisServer, attempts: int = 3) -> PortcullisServer:
    """Start; if the freshly picked port was grabbed by someone else meanwhile, pick another."""
    for attempt in range(attempts):
        try:
            return srv.start()
        except ServerStartError as e:
            text = str(e).lower()
            if attempt + 1 < attempts and ("address already in use" in text or "addrinuse" in text):
                srv.port = procs.free_port()
                continue
            raise
    raise AssertionError("unreachable")
