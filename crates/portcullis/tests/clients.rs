//! `portcullis admin client …` and the clients declared in `[[core.oidc.clients]]`.

mod common;

use common::*;
use serde_json::Value;

/// The actions of the audit log that start with `client.`, oldest first.
fn client_actions(dir: &DataDir) -> Vec<String> {
    let events = dir.json(&["audit", "list", "--limit", "1000"]);
    let mut actions: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("client."))
        .map(str::to_owned)
        .collect();
    actions.reverse();
    actions
}

#[test]
fn an_operator_manages_a_client_from_the_cli() {
    let dir = DataDir::migrated();
    let org = dir.run("org create acme");
    let made = dir.run(
        "client create --name Web --kind confidential --client-id web --org acme \
         --redirect-uri https://app.example.com/cb --scope openid --scope email",
    );
    assert_eq!(made["clientId"], "web");
    assert_eq!(made["orgId"], org["id"]);
    assert_eq!(made["scopes"], serde_json::json!(["email", "openid"]));
    let secret = made["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);

    let listed = dir.run("client list");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret), "shown once only");
    assert_eq!(
        dir.run("client list --org acme").as_array().unwrap().len(),
        1
    );
    assert_eq!(dir.run("client show web")["name"], "Web");

    let updated = dir.run("client update web --name Web2 --allow-offline --grant-type authorization_code --grant-type refresh_token --scope openid --scope offline_access");
    assert_eq!(updated["name"], "Web2");
    assert_eq!(updated["allowOffline"], true);
    assert!(updated.get("clientSecret").is_none());
    let rotated = dir.run("client rotate-secret web");
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(
        rotated["secrets"][0]["expiresAt"].is_string(),
        "the old one ends later"
    );
    assert!(dir.run("client disable web")["disabledAt"].is_string());
    assert_eq!(dir.run("client enable web")["disabledAt"], Value::Null);
    assert_eq!(dir.run("client delete web")["deleted"], "web");
    assert!(dir.run("client list").as_array().unwrap().is_empty());
    assert_eq!(
        client_actions(&dir),
        [
            "client.create",
            "client.update",
            "client.rotate_secret",
            "client.disable",
            "client.enable",
            "client.delete"
        ]
    );
}

#[test]
fn bad_client_input_is_refused_and_writes_nothing() {
    let dir = DataDir::migrated();
    for (args, why) in [
        (
            "client create --name W --kind confidential --redirect-uri http://app.example.com/cb",
            "loopback",
        ),
        (
            "client create --kind public --redirect-uri http://127.0.0.1/cb",
            "--name",
        ),
        (
            "client create --name W --kind public --auth-method client_secret_basic --redirect-uri http://127.0.0.1/cb",
            "must be none",
        ),
        (
            "client create --name W --kind confidential --redirect-uri https://a.example/cb --scope email",
            "openid",
        ),
        (
            "client create --name W --kind confidential --redirect-uri https://a.example/cb --org nowhere",
            "nowhere",
        ),
        ("client show nope", "not found"),
    ] {
        let err = dir.fails(&args.split_whitespace().collect::<Vec<_>>());
        assert!(err.contains(why), "{args}: {err}");
    }
    assert!(dir.run("client list").as_array().unwrap().is_empty());
    assert!(client_actions(&dir).is_empty());
}

/// A server started with a declared client has it, marked declarative; the CLI cannot edit it;
/// removed from the file, it is disabled at the next start.
#[test]
fn a_declared_client_is_reconciled_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let data = cwd.join("data");
    let secret = "grafana-secret-grafana-secret-grafana";
    std::fs::write(cwd.join("grafana.secret"), format!("{secret}\n")).unwrap();
    let declared = format!(
        "[[core.oidc.clients]]\nclient_id = \"grafana\"\nname = \"Grafana\"\n\
         kind = \"confidential\"\nsecret_file = \"{}\"\norg = \"default\"\n\
         redirect_uris = [\"https://grafana.example.com/login/generic_oauth\"]\n",
        cwd.join("grafana.secret").display()
    );
    let config = cwd.join("portcullis.toml");
    std::fs::write(&config, &declared).unwrap();
    let start = || {
        let mut cmd = portcullis(cwd);
        cmd.arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data);
        let server = Server::start(cmd);
        // Serving: its SIGTERM handler is in place (it is not yet when "listening" is logged).
        assert_eq!(http_get(server.addr, "/readyz").0, 200);
        server
    };

    let server = start();
    server.sigterm();
    let (code, log) = server.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(secret), "the secret is never logged");
    let listed = admin_json(cwd, &data, &["client", "list"]);
    let clients = listed.as_array().unwrap();
    assert_eq!(clients.len(), 1, "{listed}");
    let g = &clients[0];
    assert_eq!(g["clientId"], "grafana");
    assert_eq!(g["declarative"], true);
    assert_eq!(g["disabledAt"], Value::Null);
    assert_eq!(g["secrets"].as_array().unwrap().len(), 1);
    let default_org = admin_json(cwd, &data, &["org", "show", "default"]);
    assert_eq!(g["orgId"], default_org["org"]["id"]);
    let err = admin_fails(cwd, &data, &["client", "update", "grafana", "--name", "X"]);
    assert!(err.contains("configuration file"), "{err}");

    // Removed from the file: disabled and handed back at the next start.
    std::fs::write(&config, "").unwrap();
    let server = start();
    server.sigterm();
    let (code, log) = server.wait();
    assert_eq!(code, Some(0), "{log}");
    let g = &admin_json(cwd, &data, &["client", "show", "grafana"]);
    assert!(g["disabledAt"].is_string(), "{g}");
    assert_eq!(g["declarative"], false);

    // A declaration that cannot be applied stops the start.
    std::fs::write(
        &config,
        declared.replace("grafana.secret", "missing.secret"),
    )
    .unwrap();
    let o = run(portcullis(cwd)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("secret_file") && err.contains("missing.secret"),
        "{err}"
    );
}

/// `client roles`: a client-credentials client's service account, shown like an API key.
#[test]
fn an_operator_sets_the_roles_of_a_service_client() {
    let dir = DataDir::migrated();
    let org = dir.run("org create acme");
    let made = dir.run(
        "client create --name Job --kind confidential --client-id job --org acme \
         --grant-type client_credentials",
    );
    let account = made["serviceAccount"].clone();
    assert_eq!(account["orgId"], org["id"]);
    assert_eq!(account["roles"], serde_json::json!([]));
    let set = dir.run("client roles job --role executor --role AUTHOR");
    assert_eq!(set["serviceAccount"]["id"], account["id"]);
    assert_eq!(
        set["serviceAccount"]["roles"],
        serde_json::json!(["AUTHOR", "EXECUTOR"])
    );
    assert_eq!(
        dir.run("client show job")["serviceAccount"]["roles"],
        serde_json::json!(["AUTHOR", "EXECUTOR"])
    );
    assert_eq!(
        dir.run("client list")[0]["serviceAccount"]["id"],
        account["id"]
    );
    assert_eq!(
        dir.run("client roles job")["serviceAccount"]["roles"],
        serde_json::json!([])
    );
    for (args, why) in [
        ("client roles job --role OWNER", "unknown role"),
        ("client roles nope --role ADMIN", "not found"),
        (
            "client create --name J --kind confidential --grant-type client_credentials",
            "orgId",
        ),
    ] {
        let err = dir.fails(&args.split_whitespace().collect::<Vec<_>>());
        assert!(err.contains(why), "{args}: {err}");
    }
    dir.run("client create --name Web --kind confidential --client-id web --redirect-uri https://a.example/cb");
    let err = dir.fails(&["client", "roles", "web", "--role", "ADMIN"]);
    assert!(err.contains("client_credentials"), "{err}");
    assert_eq!(
        client_actions(&dir)
            .iter()
            .filter(|a| *a == "client.roles")
            .count(),
        2
    );
}
