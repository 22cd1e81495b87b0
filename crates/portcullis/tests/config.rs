//! Configuration layering and start-up failures that must write nothing.

mod common;

use common::*;
use serde_json::Value;

fn effective(cmd: &mut std::process::Command) -> Value {
    let o = run(cmd.args(["config", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn precedence_is_file_then_env_then_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let file = cwd.join("p.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:1001\"\ndata_dir = \"/file/data\"\n\
         database_url = \"sqlite:///file/db\"\n",
    )
    .unwrap();

    let defaults = effective(&mut portcullis(cwd));
    assert_eq!(defaults["server"]["listen"], "127.0.0.1:8080");
    assert_eq!(defaults["server"]["data_dir"], "portcullis-data");
    assert_eq!(defaults["server"]["database_url"], Value::Null);

    let f = effective(portcullis(cwd).arg("--config").arg(&file));
    assert_eq!(f["server"]["listen"], "127.0.0.1:1001");
    assert_eq!(f["server"]["data_dir"], "/file/data");
    assert_eq!(f["server"]["database_url"], "sqlite:///file/db");
    // PORTCULLIS_CONFIG works like --config.
    assert_eq!(
        effective(portcullis(cwd).env("PORTCULLIS_CONFIG", &file)),
        f
    );

    let with_env = |cmd: &mut std::process::Command| {
        cmd.env("PORTCULLIS_LISTEN", "127.0.0.1:2002")
            .env("PORTCULLIS_DATA_DIR", "/env/data")
            .env("PORTCULLIS_DATABASE_URL", "postgres://u:secret@envhost/db");
    };
    let mut cmd = portcullis(cwd);
    cmd.arg("--config").arg(&file);
    with_env(&mut cmd);
    let e = effective(&mut cmd);
    assert_eq!(e["server"]["listen"], "127.0.0.1:2002");
    assert_eq!(e["server"]["data_dir"], "/env/data");
    assert_eq!(
        e["server"]["database_url"], "postgres://u:***@envhost/db",
        "passwords are redacted"
    );

    let mut cmd = portcullis(cwd);
    cmd.arg("--config").arg(&file).args([
        "--data-dir",
        "/flag/data",
        "--database-url",
        "sqlite:///flag/db",
    ]);
    with_env(&mut cmd);
    cmd.args(["config", "--json", "--listen", "127.0.0.1:3003"]);
    let o = run(&mut cmd);
    assert!(o.status.success(), "{}", stderr(&o));
    let fl: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(fl["server"]["listen"], "127.0.0.1:3003");
    assert_eq!(fl["server"]["data_dir"], "/flag/data");
    assert_eq!(fl["server"]["database_url"], "sqlite:///flag/db");
}

#[test]
fn the_flag_listen_address_is_the_one_served() {
    // `serve --listen` really binds what it is given (here: an OS-chosen port), overriding env.
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = portcullis(tmp.path());
    cmd.env("PORTCULLIS_LISTEN", "127.0.0.1:1")
        .env("PORTCULLIS_DATA_DIR", tmp.path().join("envdata"));
    let server = Server::start(cmd);
    assert_ne!(server.addr.port(), 1);
    assert_eq!(http_get(server.addr, "/readyz").0, 200);
    assert!(tmp.path().join("envdata").join("portcullis.db").is_file());
    server.sigterm();
    assert_eq!(server.wait().0, Some(0));
}

fn nothing_written(dir: &std::path::Path) {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        entries.iter().all(|n| n == "bad.toml" || n == "afile"),
        "unexpected files: {entries:?}"
    );
}

#[test]
fn malformed_config_names_key_and_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let file = cwd.join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:8080\"\nlistne = \"oops\"\n",
    )
    .unwrap();
    for sub in [&["serve"][..], &["migrate"], &["admin", "user", "list"]] {
        let o = run(portcullis(cwd).arg("--config").arg(&file).args(sub));
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(err.contains("listne"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("bad.toml"), "{err}");
    }
    std::fs::write(&file, "[core.tokens]\naccess_secs = \"a day\"\n").unwrap();
    let o = run(portcullis(cwd).arg("--config").arg(&file).arg("serve"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("access_secs"), "{}", stderr(&o));
    // A missing file and a bad environment value are clear too.
    let o = run(portcullis(cwd).args(["--config", "missing.toml", "serve"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("missing.toml"));
    let o = run(portcullis(cwd)
        .env("PORTCULLIS_LISTEN", "nonsense")
        .arg("serve"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("PORTCULLIS_LISTEN"), "{}", stderr(&o));
    nothing_written(cwd);
}

#[test]
fn unreachable_database_fails_clearly_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    for sub in [&["serve"][..], &["migrate"], &["admin", "org", "list"]] {
        let o = run(portcullis(cwd)
            .args([
                "--database-url",
                "postgres://portcullis:hunter2@127.0.0.1:1/portcullis",
            ])
            .args(sub));
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(err.contains("cannot open the store"), "{err}");
        assert!(err.contains("127.0.0.1:1"), "{err}");
        assert!(!err.contains("hunter2"), "password leaked: {err}");
    }
    nothing_written(cwd);
}

#[test]
fn unwritable_data_dir_fails_clearly_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // A data directory under a regular file cannot be created, even by root.
    std::fs::write(cwd.join("afile"), "").unwrap();
    let o = run(portcullis(cwd).args(["--data-dir", "afile/data", "serve"]));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("data directory"), "{err}");
    assert!(err.contains("afile/data"), "{err}");
    nothing_written(cwd);
}

#[test]
fn help_covers_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["admin", "--help"],
        &["admin", "user", "create", "--help"],
        &["admin", "member", "add", "--help"],
        &["admin", "workspace", "grant", "--help"],
        &["admin", "allowlist", "--help"],
        &["admin", "audit", "list", "--help"],
    ] {
        let o = run(portcullis(tmp.path()).args(args));
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage"), "{args:?}");
    }
}

/// `portcullis config` shows the configuration, never a secret in it, in either format.
#[test]
fn printed_config_redacts_every_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.toml");
    std::fs::write(
        &file,
        "[server]\n\
         database_url = \"postgres://u:Url-Pa55@h/db?sslpassword=Ssl-Pa55&sslmode=require\"\n\
         [core.sandbox]\nshared_secret = \"Sandbox-S3cret\"\norg = \"sandbox\"\n\
         [[federation.providers]]\nalias = \"corp\"\nissuer = \"https://idp.example\"\n\
         client_ids = [\"app\"]\nintrospection_client_secret = \"Intro-S3cret\"\n",
    )
    .unwrap();
    for json in [false, true] {
        let mut cmd = portcullis(tmp.path());
        cmd.arg("--config").arg(&file).arg("config");
        if json {
            cmd.arg("--json");
        }
        let o = run(&mut cmd);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        for secret in ["Url-Pa55", "Ssl-Pa55", "Sandbox-S3cret", "Intro-S3cret"] {
            assert!(!out.contains(secret), "{secret} printed:\n{out}");
        }
        // Only the secrets go: the rest is still shown.
        assert!(out.contains("postgres://u:***@h/db"), "{out}");
        assert!(out.contains("sslmode=require"), "{out}");
        assert!(out.contains("<redacted>"), "{out}");
        assert!(out.contains("sandbox"), "{out}");
    }
}
