//! `portcullis admin`: the happy path with `--json`, and bad input that must write nothing.

mod common;

use std::io::Write as _;
use std::process::Stdio;

use common::*;
use serde_json::Value;

/// Everything a bad command must not change.
fn snapshot(dir: &DataDir) -> Vec<Value> {
    vec![
        dir.json(&["user", "list"]),
        dir.json(&["org", "list"]),
        dir.json(&["member", "list", "--org", "acme", "--include-removed"]),
        dir.json(&["audit", "list", "--limit", "1000"]),
    ]
}

/// The actions of an `audit list` answer, in its order.
fn audit_actions(events: &Value) -> Vec<&str> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[test]
fn admin_creates_org_user_membership_and_lists_them() {
    let dir = DataDir::migrated();
    let (cwd, data) = (dir.cwd.as_path(), dir.data.clone());

    let org = dir.json(&["org", "create", "acme", "--display-name", "Acme Inc."]);
    assert_eq!(org["name"], "acme");
    assert_eq!(
        org["region_id"], "local",
        "the configured region is created on demand"
    );
    let user = dir.run("user create --email Ann@Example.com --name Ann --validated");
    assert_eq!(user["email"], "Ann@Example.com");
    assert_eq!(user["has_password"], false);
    assert!(user.get("password_hash").is_none());
    let m = dir.run("member add --org acme --user ann@example.com --roles admin,author");
    assert_eq!(m["roles"], serde_json::json!(["ADMIN", "AUTHOR"]));
    assert_eq!(m["kind"], "member");

    let members = dir.json(&["member", "list", "--org", "acme"]);
    let members = members.as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["email"], "Ann@Example.com");
    assert_eq!(members[0]["org_name"], "acme");
    assert_eq!(members[0]["user_id"], user["id"]);

    let orgs = dir.json(&["org", "list"]);
    assert_eq!(orgs.as_array().unwrap().len(), 1);
    let users = dir.json(&["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 1);

    // Update roles and kind; show the user.
    dir.run("member update --org acme --user ANN@example.com --roles executor --kind guest");
    let shown = dir.json(&["user", "show", user["id"].as_str().unwrap()]);
    assert_eq!(
        shown["memberships"][0]["roles"],
        serde_json::json!(["EXECUTOR"])
    );
    assert_eq!(shown["memberships"][0]["kind"], "guest");

    // Workspaces and grants.
    let ws = dir.json(&["workspace", "create", "--org", "acme", "team-1"]);
    assert_eq!(ws["slug"], "team-1");
    dir.run("workspace grant acme/team-1 --user ann@example.com");
    let grants = dir.json(&["workspace", "grants", "--user", "ann@example.com"]);
    assert_eq!(grants[0]["workspace_id"], ws["id"]);
    dir.run("workspace revoke acme/team-1 --user ann@example.com");

    // Allow-list, regions, flags.
    dir.json(&["allowlist", "add", "domain", "Example.COM"]);
    dir.run("allowlist add address bob@other.org --org acme");
    let list = dir.json(&["allowlist", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    dir.json(&["allowlist", "remove", "domain", "example.com"]);
    dir.json(&["region", "upsert", "eu", "--api-host", "api.eu.example.com"]);
    assert_eq!(dir.json(&["region", "list"]).as_array().unwrap().len(), 2);
    let u = dir.json(&["user", "force-password-reset", "ann@example.com"]);
    assert_eq!(u["password_reset_required"], true);
    let code = u["reset_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 27, "160 random bits, base64url");
    assert_eq!(u["credentials_revoked"], 0);
    let again = dir.run("user force-password-reset ann@example.com --revoke-credentials");
    assert_ne!(
        again["reset_code"].as_str().unwrap(),
        code,
        "a new code each time"
    );
    dir.json(&["user", "unlock", "ann@example.com"]);
    let d = dir.json(&["user", "deactivate", "ann@example.com"]);
    assert_eq!(d["sessions_revoked"], 0);
    let u = dir.json(&["user", "reactivate", "ann@example.com"]);
    assert_eq!(u["deactivated"], false);
    let o = dir.json(&["org", "disable", "acme"]);
    assert_eq!(o["disabled"], true);
    dir.run("member remove --org acme --user ann@example.com");
    assert_eq!(
        dir.json(&["member", "list", "--org", "acme"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Every change is audited, with the operator when given.
    dir.json(&["--actor", "ann@example.com", "org", "enable", "acme"]);
    let events = dir.json(&["audit", "list"]);
    let actions = audit_actions(&events);
    for a in [
        "org.create",
        "user.create",
        "membership.add",
        "membership.update",
        "workspace.create",
        "workspace.grant",
        "allowlist.add",
        "user.deactivate",
        "membership.remove",
        "org.enable",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(actions[0], "org.enable", "newest first");
    assert_eq!(events[0]["actor"], user["id"]);
    let filtered = dir.json(&["audit", "list", "--action", "user.create"]);
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    // Human output works too.
    let o = run(portcullis(cwd)
        .arg("--data-dir")
        .arg(&data)
        .args(["admin", "user", "list"]));
    assert!(o.status.success());
    assert!(stdout(&o).contains("Ann@Example.com"));
}

#[test]
fn initial_password_from_stdin_is_policy_checked_and_hashed() {
    let dir = DataDir::migrated();
    let (cwd, data) = (dir.cwd.as_path(), dir.data.clone());
    let create = |pw: &str| {
        let mut child = portcullis(cwd)
            .arg("--data-dir")
            .arg(&data)
            .args([
                "admin",
                "--json",
                "user",
                "create",
                "--email",
                "pat@example.com",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = create("password");
    assert!(!weak.status.success());
    assert!(
        stderr(&weak).contains("common passwords"),
        "{}",
        stderr(&weak)
    );
    assert_eq!(dir.json(&["user", "list"]).as_array().unwrap().len(), 0);

    let ok = create("a perfectly fine passphrase");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let user: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(user["has_password"], true);
    // The secret never reaches the audit log.
    let events = dir.json(&["audit", "list"]).to_string();
    assert!(!events.contains("perfectly fine"), "{events}");
    assert!(!events.contains("argon2"), "{events}");
}

#[test]
fn bad_admin_input_fails_clearly_and_writes_nothing() {
    let dir = DataDir::migrated();
    dir.json(&["org", "create", "acme"]);
    dir.json(&["user", "create", "--email", "ann@example.com"]);
    let before = snapshot(&dir);

    let cases: &[(&str, &str)] = &[
        ("user create --email ANN@EXAMPLE.COM", "already exists"),
        ("user create --email not-an-email", "not an email address"),
        (
            "member add --org acme --user nobody@example.com",
            "unknown user",
        ),
        (
            "member add --org nope --user ann@example.com",
            "unknown org",
        ),
        (
            "member add --org acme --user ann@example.com --roles boss",
            "unknown role",
        ),
        (
            "member remove --org acme --user ann@example.com",
            "not a member",
        ),
        ("org create acme", "already exists"),
        ("org create other --region mars", "unknown region"),
        ("workspace create --org acme Not_A_Slug", "slug"),
        (
            "workspace grant acme/none --user ann@example.com",
            "unknown workspace",
        ),
        ("allowlist add domain nodot", "not a domain"),
        (
            "allowlist remove address zed@example.com",
            "not on that allow-list",
        ),
    ];
    for (line, expected) in cases {
        let args: Vec<&str> = line.split_whitespace().collect();
        let err = dir.fails(&args);
        assert!(
            err.to_lowercase().contains(expected),
            "{args:?}: expected {expected:?} in:\n{err}"
        );
    }
    assert_eq!(snapshot(&dir), before, "bad input changed the store");
}

/// `admin --json keys ARGS`, with the master key the keys are sealed under.
fn keys_cli(dir: &DataDir, args: &[&str]) -> std::process::Output {
    run(portcullis(&dir.cwd)
        .env("PORTCULLIS_MASTER_KEY", "11".repeat(32))
        .arg("--data-dir")
        .arg(&dir.data)
        .args(["admin", "--json", "keys"])
        .args(args))
}

/// `keys rotate` and `keys revoke` run the engine's use cases: same output, same audit names.
#[test]
fn admin_rotates_and_revokes_signing_keys() {
    let dir = DataDir::migrated();
    let keys = |args: &[&str]| keys_cli(&dir, args);
    let o = keys(&["rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rotated: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (kid, retired) = (
        rotated["kid"].as_str().unwrap(),
        rotated["retired"].as_str().unwrap(),
    );
    assert_ne!(kid, retired);

    let o = keys(&["revoke", retired]);
    assert!(o.status.success(), "{}", stderr(&o));
    let revoked: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(revoked["already_revoked"], false);
    assert_eq!(revoked["signing_kid"], kid);

    let o = keys(&["revoke", "nope"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no signing key \"nope\""),
        "{}",
        stderr(&o)
    );

    let events = dir.json(&["audit", "list"]);
    let actions = audit_actions(&events);
    assert_eq!(actions, ["keys.revoke", "keys.rotate"]);
    assert_eq!(events[0]["detail"]["via"], "cli");
}

/// `--alg` picks the ring: ID-token keys (RS256, ES256) rotate and revoke like the access
/// tokens' EdDSA keys, `keys list` shows every algorithm, and a kid is revoked in its own ring.
#[test]
fn admin_keys_take_an_algorithm() {
    let dir = DataDir::migrated();
    let keys = |args: &[&str]| keys_cli(&dir, args);
    let ok = |args: &[&str]| -> Value {
        let o = keys(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // The first RS256 key retires nothing; the second retires the first.
    let first = ok(&["rotate", "--alg", "RS256"]);
    assert_eq!(first["alg"], "RS256");
    assert_eq!(first["retired"], Value::Null);
    let second = ok(&["rotate", "--alg", "RS256"]);
    assert_eq!(second["retired"], first["kid"]);
    let es = ok(&["rotate", "--alg", "ES256"]);
    assert_eq!(es["alg"], "ES256");
    let ed = ok(&["rotate"]);
    assert_eq!(ed["alg"], "EdDSA", "EdDSA by default");

    let listed = ok(&["list"]);
    let algs: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["EdDSA", "EdDSA", "RS256", "RS256", "ES256"]);
    let rs = ok(&["list", "--alg", "RS256"]);
    assert_eq!(rs.as_array().unwrap().len(), 2);
    assert_eq!(rs[1]["kid"], second["kid"]);
    assert_eq!(rs[1]["retired_at"], Value::Null);

    // Revoking the RS256 signer puts a new RS256 key in its place.
    let kid = second["kid"].as_str().unwrap();
    let o = keys(&["revoke", kid, "--alg", "ES256"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not ES256"), "{}", stderr(&o));
    let revoked = ok(&["revoke", kid]);
    assert_eq!(revoked["alg"], "RS256");
    assert_eq!(revoked["already_revoked"], false);
    let signer = revoked["signing_kid"].as_str().unwrap();
    assert!(signer.starts_with("rs256-") && signer != kid, "{signer}");
    let rs = ok(&["list", "--alg", "RS256"]);
    assert_eq!(rs.as_array().unwrap().len(), 3);
    assert!(rs[1]["revoked_at"].is_string());

    let o = keys(&["rotate", "--alg", "HS256"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("HS256"), "{}", stderr(&o));

    let events = dir.json(&["audit", "list"]);
    let actions = audit_actions(&events);
    assert_eq!(
        actions,
        [
            "keys.revoke",
            "keys.rotate",
            "keys.rotate",
            "keys.rotate",
            "keys.rotate"
        ]
    );
    assert_eq!(events[0]["detail"]["alg"], "RS256");
    assert_eq!(events[1]["detail"]["alg"], "EdDSA");
}

#[test]
fn admin_sets_the_mfa_policy_and_lists_and_resets_factors() {
    let dir = DataDir::migrated();
    dir.json(&["org", "create", "acme"]);
    dir.run("user create --email ann@example.com");
    dir.run("member add --org acme --user ann@example.com --roles author");
    let out = dir.run("user mfa list ann@example.com");
    assert_eq!(out["sign_in"], "password");
    assert_eq!(out["policy"]["mode"], "optional");
    assert_eq!(out["factors"], serde_json::json!([]));

    let out = dir.run("org update acme --mfa required --passkeys-only true");
    assert_eq!(out["mfa_policy"]["mode"], "required");
    assert_eq!(out["mfa_policy"]["passkeys_only"], true);
    let out = dir.run("user mfa list ann@example.com");
    assert_eq!(out["sign_in"], "enrolment_required");
    assert_eq!(out["policy"]["passkeys_only"], true);
    // One part only: the other keeps its value.
    let out = dir.run("org update acme --passkeys-only false");
    assert_eq!(out["mfa_policy"]["mode"], "required");
    assert_eq!(out["mfa_policy"]["passkeys_only"], false);
    // Together with a profile change.
    let out = dir.run("org update acme --display-name Acme --mfa optional");
    assert_eq!(out["display_name"], "Acme");
    assert_eq!(
        dir.run("user mfa list ann@example.com")["policy"]["mode"],
        "optional"
    );

    let before = snapshot(&dir);
    let err = dir.fails(&["org", "update", "acme", "--mfa", "sometimes"]);
    assert!(err.contains("off, optional or required"), "{err}");
    let err = dir.fails(&["user", "mfa", "reset", "nobody@example.com"]);
    assert!(err.contains("unknown user"), "{err}");
    assert_eq!(snapshot(&dir), before, "bad input writes nothing");

    let out = dir.run("user mfa reset ann@example.com");
    assert_eq!(out["factors_removed"], 0);
    assert_eq!(out["sessions_ended"], 0);
    let events = dir.json(&["audit", "list", "--limit", "100"]);
    let actions = audit_actions(&events);
    assert!(actions.contains(&"org.mfa_policy"), "{actions:?}");
    assert!(actions.contains(&"factor.reset"), "{actions:?}");
}
