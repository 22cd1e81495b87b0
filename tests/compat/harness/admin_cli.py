"""The one place that knows the shape of `portcullis admin …`. Adjust here when the flags change.

Contract today: `portcullis admin --data-dir <dir> [--database-url URL] --json <subcommand…>` prints
one JSON document on stdout and exits 0 on success.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping


class AdminCliError(AssertionError):
    def __init__(self, argv: list[str], proc: subprocess.CompletedProcess):
        self.argv, self.returncode, self.stdout, self.stderr = argv, proc.returncode, proc.stdout, proc.stderr
        super().__init__(
            f"`{' '.join(argv)}` exited {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
            f"\n--- stderr ---\n{proc.stderr[-4000:]}")


@dataclass
class AdminCli:
    binary: Path
    data_dir: Path
    database_url: str | None = None
    env: Mapping[str, str] | None = None
    timeout: float = 60

    def argv(self, *args: str, json_output: bool = True) -> list[str]:
        argv = [str(self.binary), "admin", "--data-dir", str(self.data_dir)]
        if self.database_url:
            argv += ["--database-url", self.database_url]
        if json_output:
            argv.append("--json")
        return argv + [str(a) for a in args]

    def run_raw(self, *args: str, json_output: bool = True, input: str | None = None,
                ) -> subprocess.CompletedProcess:
        argv = self.argv(*args, json_output=json_output)
        return subprocess.run(argv, capture_output=True, text=True, input=input,
                              env=dict(self.env) if self.env is not None else None, timeout=self.timeout)

    def __call__(self, *args: str, check: bool = True, input: str | None = None) -> Any:
        """Run `portcullis admin … --json ARGS` and return the parsed JSON (None for empty output)."""
        argv = self.argv(*args)
        proc = self.run_raw(*args, input=input)
        if check and proc.returncode != 0:
            raise AdminCliError(argv, proc)
        out = proc.stdout.strip()
        if not out:
            return None
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            raise AssertionError(f"`{' '.join(argv)}` printed non-JSON on stdout ({e}):\n{out[:2000]}") from e

    # Convenience wrappers (flags per the current contract; keep them here only).
    def create_user(self, email: str, *, name: str | None = None, password: str | None = None,
                    super_admin: bool = False) -> Any:
        args = ["users", "create", "--email", email]
        if name is not None:
            args += ["--name", name]
        if password is not None:
            args += ["--password", password]
        if super_admin:
            args.append("--super-admin")
        return self(*args)

    def create_org(self, name: str) -> Any:
        return self("orgs", "create", "--name", name)

    def add_member(self, org: str, user_email: str, *roles: str) -> Any:
        args = ["members", "add", "--org", org, "--user", user_email]
        for role in roles or ("MEMBER",):
            args += ["--role", role]
        return self(*args)
