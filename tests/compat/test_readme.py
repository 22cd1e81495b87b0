"""README.md's "First login" block, run verbatim by bash against a real server.

The server is started the way the README says (bootstrap admin email and password from its
`serve` line); only the `PORTCULLIS=` line is rebound to the test server's address. If a command in
the README stops working, this test fails."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from harness import paths

BEGIN = "<!-- first-login:begin"
END = "<!-- first-login:end -->"


def _readme_block() -> str:
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "README first-login block has no ```bash fence"
    return match.group(1)


def _readme_serve_password() -> str:
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD='([^']+)' cargo run --release -- serve", text)
    assert match, "README no longer shows the serve command with a bootstrap password"
    return match.group(1)


def test_first_login_block_works_verbatim(server_factory):
    if shutil.which("jq") is None or shutil.which("curl") is None:
        pytest.fail("the README block needs curl and jq (.ci/run installs them)", pytrace=False)
    block = _readme_block()
    password = _readme_serve_password()
    assert f"PASSWORD='{password}'" in block, "README's serve password and its login block disagree"
    email = re.search(r"^EMAIL=(\S+)$", block, re.M).group(1)
    srv = server_factory(admin_email=email, admin_password=password)

    script, n = re.subn(r"^PORTCULLIS=.*$", f"PORTCULLIS={srv.base_url}", block, count=1, flags=re.M)
    assert n == 1, "README block no longer sets PORTCULLIS="
    script += '\nprintf "TOKEN=%s\\nKEY=%s\\nACCESS=%s\\n" "$TOKEN" "$KEY" "$ACCESS"\n'
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"README block failed ({run.returncode})\n{run.stdout}\n{run.stderr}"

    out = run.stdout
    assert f'"email": "{email}"' in out, out          # Parsable getCurrentUser and Nominal getMyProfile
    values = dict(line.split("=", 1) for line in out.splitlines() if re.match(r"^(TOKEN|KEY|ACCESS)=", line))
    assert values["KEY"].startswith("nominal_api_key_")
    assert values["TOKEN"].count(".") == 2 and values["ACCESS"].count(".") == 2
    assert values["TOKEN"] != values["ACCESS"]

    # The exchanged token really is accepted by the API, and names the README's user.
    profile = srv.get("/api/authentication/v2/my/profile", headers={"Authorization": f"Bearer {values['ACCESS']}"})
    assert profile.status_code == 200 and profile.json()["email"] == email
