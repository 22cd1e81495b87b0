"""Fresh PostgreSQL databases for tests, created from $PORTCULLIS_TEST_POSTGRES_URL with psql."""
from __future__ import annotations

import shutil
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit


class PostgresUnavailable(RuntimeError):
    pass


def _psql(admin_url: str, sql: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        raise PostgresUnavailable("psql is not on PATH")
    proc = subprocess.run([psql, admin_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise PostgresUnavailable(f"psql failed ({proc.returncode}): {proc.stderr.strip()}")


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def create_database(admin_url: str, prefix: str = "portcullis_test") -> tuple[str, str]:
    """CREATE DATABASE <prefix>_<random>; returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _psql(admin_url, f'CREATE DATABASE "{name}"')
    return name, with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    _psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
