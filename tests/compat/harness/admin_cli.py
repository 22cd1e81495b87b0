"""The one place that knows the shape of `portcullis admin …`. Adjust here when the flags change.

Contract today: `portcullis admin --data-dir <dir> [--database-url URL] [--config FILE] --json
<subcommand…>` prints one JSON document on stdout and exits 0 on success. Subcommands are singular:
`user create --email E [--name N] [--super-admin] [--validated] [--password-stdin]`,
`org create NAME [--display-name D]`, `member add --org ORG --user USER --roles ADMIN,AUTHOR [--kind member|guest]`,
`client create --kind confidential|public --name N [--redirect-uri U …] [--grant-type G …] [--first-party] …`
(JSON: the client's settings in camelCase, `clientId`, and `clientSecret` when one was made).
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import leakscan


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
    config_path: Path | None = None
    timeout: float = 60

    def argv(self, *args: str, json_output: bool = True) -> list[str]:
        argv = [str(self.binary), "admin", "--data-dir", str(self.data_dir)]
        if self.database_url:
            argv += ["--database-url", self.database_url]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
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
        if input is not None and "--password-stdin" in args:
            leakscan.register("password", input)
        proc = self.run_raw(*args, input=input)
        if check and proc.returncode != 0:
            raise AdminCliError(argv, proc)
        out = proc.stdout.strip()
        if not out:
            return None
        try:
            parsed = json.loads(out)
        except json.JSONDecodeError as e:
            raise AssertionError(f"`{' '.join(argv)}` printed non-JSON on stdout ({e}):\n{out[:2000]}") from e
        leakscan.register_json(parsed)      # reset codes, generated passwords, tokens
        return parsed

    # Convenience wrappers (flags per the current contract; keep them here only).
    def create_user(self, email: str, *, name: str | None = None, password: str | None = None,
                    super_admin: bool = False, validated: bool = True) -> Any:
        args = ["user", "create", "--email", email]
        if name is not None:
            args += ["--name", name]
        if super_admin:
            args.append("--super-admin")
        if validated:
            args.append("--validated")
        if password is not None:
            args.append("--password-stdin")
            return self(*args, input=password + "\n")
        return self(*args)

    def create_org(self, name: str, *, display_name: str | None = None) -> Any:
        args = ["org", "create", name]
        if display_name is not None:
            args += ["--display-name", display_name]
        return self(*args)

    def add_member(self, org: str, user: str, *roles: str, kind: str = "member") -> Any:
        args = ["member", "add", "--org", org, "--user", user, "--kind", kind]
        if roles:
            args += ["--roles", ",".join(roles)]
        return self(*args)

    def create_client(self, kind: str, name: str, **options: Any) -> Any:
        """`client create --kind KIND --name NAME` plus one flag per option (`redirect_uri=[…]` →
        `--redirect-uri U` per item, `first_party=True` → `--first-party`). Answers the JSON, whose
        `clientSecret` (shown once) the log scan registers."""
        args = ["client", "create", "--kind", kind, "--name", name]
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if v is True:
                    args.append(flag)
                elif v is not None and v is not False:
                    args += [flag, str(v)]
        return self(*args)
