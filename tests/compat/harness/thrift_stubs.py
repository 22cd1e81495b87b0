"""Generate the Parsable Thrift Python stubs at test time with the Debian `thrift` compiler.

The stubs come from the in-repo IDL copy (tests/compat/idl/parsable), never from ../shared, so the
suite does not depend on the spec folder being present. They are generated once per process into a
temporary directory that is put at the front of sys.path.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import paths

# Every `namespace py X` of the IDL; authentication includes the others.
IDL_MODULES = ("abac", "common", "user", "team", "job_role", "job", "setting", "authentication")


class ThriftStubError(RuntimeError):
    pass


@dataclass(frozen=True)
class ThriftStubs:
    out_dir: Path
    modules: dict[str, ModuleType]         # "authentication" -> package authentication, …
    ttypes: dict[str, ModuleType]          # "authentication" -> authentication.ttypes, …
    AuthenticationService: ModuleType     # authentication.AuthenticationService (has .Client)

    def __getattr__(self, name: str):      # stubs.common.ttypes.ErrorCode etc.
        try:
            return self.modules[name]
        except KeyError:
            raise AttributeError(name) from None


_cached: ThriftStubs | None = None


def generate(out_dir: Path | None = None, idl_dir: Path = paths.IDL_DIR) -> ThriftStubs:
    """Generate (once per process) and import the stubs. Raises ThriftStubError with a hint."""
    global _cached
    if _cached is not None:
        return _cached
    compiler = paths.thrift_compiler()
    if compiler is None:
        raise ThriftStubError(
            "the `thrift` compiler is not on PATH: install Debian's thrift-compiler "
            "(`apt-get install -y thrift-compiler`, done by .ci/run) or set PORTCULLIS_TEST_THRIFT")
    if out_dir is None:
        out_dir = Path(tempfile.mkdtemp(prefix="portcullis-gen-py-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    idl_files = sorted(idl_dir.glob("*.thrift"))
    if not idl_files:
        raise ThriftStubError(f"no .thrift files in {idl_dir}")
    for idl in idl_files:
        proc = subprocess.run(
            [compiler, "--gen", "py", "-I", str(idl_dir), "-out", str(out_dir), str(idl)],
            capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise ThriftStubError(
                f"thrift --gen py {idl.name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))
    importlib.invalidate_caches()
    modules = {name: importlib.import_module(name) for name in IDL_MODULES}
    ttypes = {name: importlib.import_module(f"{name}.ttypes") for name in IDL_MODULES}
    service = importlib.import_module("authentication.AuthenticationService")
    _cached = ThriftStubs(out_dir=out_dir, modules=modules, ttypes=ttypes, AuthenticationService=service)
    return _cached
