"""The in-repo IDL copy (tests/compat/idl/parsable) must equal ../shared/spec/parsable when present."""
import pytest

from harness import paths


def test_in_repo_idl_matches_shared_spec():
    if not paths.SHARED_PARSABLE_SPEC.is_dir():
        pytest.skip(f"{paths.SHARED_PARSABLE_SPEC} not present")
    shared = {p.name: p.read_bytes() for p in paths.SHARED_PARSABLE_SPEC.glob("*.thrift")}
    local = {p.name: p.read_bytes() for p in paths.IDL_DIR.glob("*.thrift")}
    assert sorted(local) == sorted(shared), "file sets differ: copy ../shared/spec/parsable/*.thrift again"
    differing = [name for name in shared if shared[name] != local[name]]
    assert not differing, f"in-repo IDL differs from ../shared for {differing}: copy it again"
