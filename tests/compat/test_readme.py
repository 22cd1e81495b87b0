"""README.md's "First login" and "Put an app behind Portcullis" blocks, run verbatim against a real
server.

The server is started the way the README says (bootstrap admin email and password from its
`serve` line); only the `PORTCULLIS=` line is rebound to the test server's address. If a command in
the README stops working, this test fails."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess

import pytest
import requests

from harness import leakscan, paths, procs
from harness.oidc_clients import sign_in_without_browser, start_provider


def _readme_blocks(marker: str, lang: str = "bash") -> list[str]:
    """The ```lang fences between `<!-- marker:begin` and `<!-- marker:end -->`."""
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"<!-- {marker}:begin", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    blocks = re.findall(rf"```{lang}\n(.*?)```", section, re.S)
    assert blocks, f"README {marker} section has no ```{lang} fence"
    return blocks


def _readme_block() -> str:
    return _readme_blocks("first-login")[0]


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


def test_oidc_quickstart_works_verbatim(server_factory, tmp_path):
    """The quickstart's client registration and discovery, then its app.mjs (npm openid-client) run
    with its own command; a sign-in through it (requests plays the browser) ends on its page."""
    if shutil.which("jq") is None or shutil.which("curl") is None:
        pytest.fail("the README block needs curl and jq (.ci/run installs them)", pytrace=False)
    setup, run = _readme_blocks("oidc-quickstart")
    (app,) = _readme_blocks("oidc-quickstart", "js")
    srv = start_provider(server_factory, "")
    env = procs.base_env({"PATH": f"{srv.binary.parent}{os.pathsep}{os.environ['PATH']}",
                          "PORTCULLIS_DATA_DIR": str(srv.data_dir)})
    script, n = re.subn(r"^PORTCULLIS=.*$", f"PORTCULLIS={srv.base_url}", setup, count=1, flags=re.M)
    assert n == 1, "README quickstart no longer sets PORTCULLIS="
    script += '\nprintf "CLIENT_ID=%s\\nCLIENT_SECRET=%s\\n" "$CLIENT_ID" "$CLIENT_SECRET"\n'
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, f"README quickstart failed ({done.returncode})\n{done.stdout}\n{done.stderr}"
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if re.match(r"^CLIENT_(ID|SECRET)=", line))
    leakscan.register("client_secret", values["CLIENT_SECRET"])
    assert f'"issuer": "{srv.base_url}"' in done.stdout, done.stdout

    # app.mjs beside a node_modules that has openid-client, started by the README's own line.
    workdir = tmp_path / "app"
    workdir.mkdir()
    (workdir / "node_modules").symlink_to(paths.FEDERATION_DIR / "node_modules")
    (workdir / "app.mjs").write_text(app)
    port = procs.free_port()
    prelude = "".join(f"{k}={v}\n" for k, v in (("PORTCULLIS", srv.base_url), *values.items()))
    with open(workdir / "app.log", "wb") as log:
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", prelude + run], cwd=workdir, stdout=log,
                                stderr=subprocess.STDOUT, env={**env, "PORT": str(port)}, start_new_session=True)
    try:
        app_url = f"http://127.0.0.1:{port}/"

        def listening():
            try:
                return requests.get(app_url, allow_redirects=False, timeout=2)
            except requests.RequestException:
                return None

        first, why = procs.wait_until(listening, timeout=30, proc=proc)
        assert why == "ok", f"app.mjs did not listen ({why}):\n{procs.tail(workdir / 'app.log')}"
        assert first.status_code == 302 and first.headers["Location"].startswith(srv.base_url + "/oauth2/authorize?")
        back = sign_in_without_browser(srv.base_url, first.headers["Location"], srv.admin_email, srv.admin_password)
        assert back.consent_shown and back.url.startswith(f"http://127.0.0.1:{port}/callback?"), back
        page = requests.get(back.url, timeout=30)
        assert page.status_code == 200, f"{page.text}\n{procs.tail(workdir / 'app.log')}"
        assert page.text.startswith(f"Signed in as {srv.admin_email} ("), page.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
