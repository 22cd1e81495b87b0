"""Where things are: the repository, the IDL copy, the shared spec, the binary, node."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

COMPAT_DIR = Path(__file__).resolve().parent.parent          # <repo>/tests/compat
REPO_ROOT = COMPAT_DIR.parent.parent                           # <repo>
IDL_DIR = COMPAT_DIR / "idl" / "parsable"                      # in-repo copy of the Parsable IDL
SHARED_DIR = REPO_ROOT.parent / "shared"                       # <repo>/../shared (may be absent)
SHARED_PARSABLE_SPEC = SHARED_DIR / "spec" / "parsable"
FEDERATION_DIR = REPO_ROOT / "tests" / "federation"
PROVIDER_SCRIPT = FEDERATION_DIR / "provider.mjs"


def portcullis_binary() -> Path:
    """The server binary: $PORTCULLIS_BIN, else $CARGO_TARGET_DIR/debug/portcullis, else target/debug."""
    explicit = os.environ.get("PORTCULLIS_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    if not target.is_absolute():
        target = REPO_ROOT / target
    return target / "debug" / "portcullis"


def node_binary() -> str | None:
    return os.environ.get("PORTCULLIS_TEST_NODE") or shutil.which("node")


def thrift_compiler() -> str | None:
    return os.environ.get("PORTCULLIS_TEST_THRIFT") or shutil.which("thrift")
