use super::*;
use std::collections::HashMap;

#[test]
fn defaults_are_zero_config() {
    let c = Config::default();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.body_limit_bytes, 1024 * 1024);
    assert_eq!(
        c.server.database_location(),
        DatabaseLocation::Sqlite("portcullis-data/portcullis.db".into())
    );
    c.validate().unwrap();
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(Config::from_toml_str("", "x").unwrap(), Config::default());
}

#[test]
fn parse_errors_name_key_and_line() {
    let text = "[server]\nlisten = \"127.0.0.1:9\"\nlisen = 3\n";
    let err = Config::from_toml_str(text, "p.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("p.toml"), "{err}");
    assert!(err.contains("lisen"), "{err}");
    assert!(err.contains("line 3"), "{err}");

    let err = Config::from_toml_str("[core.tokens]\nsession_secs = \"x\"\n", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("session_secs"), "{err}");
}

#[test]
fn env_overrides_file() {
    let mut c = Config::from_toml_str(
        "[server]\nlisten = \"127.0.0.1:1000\"\ndata_dir = \"/a\"\n",
        "f",
    )
    .unwrap();
    let env: HashMap<&str, &str> = [
        ("PORTCULLIS_LISTEN", "127.0.0.1:2000"),
        ("PORTCULLIS_DATABASE_URL", "postgres://u:pw@h/db"),
        ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
        ("PORTCULLIS_LOG_FORMAT", "json"),
        ("PORTCULLIS_DATA_DIR", ""),
    ]
    .into_iter()
    .collect();
    c.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(c.server.listen.port(), 2000);
    assert_eq!(c.server.data_dir, PathBuf::from("/a"));
    assert_eq!(
        c.server.database_location(),
        DatabaseLocation::Remote("postgres://u:pw@h/db".into())
    );
    assert_eq!(
        c.server.database_location().redacted(),
        "postgres://u:***@h/db"
    );
    assert_eq!(c.server.trusted_proxies.len(), 2);
    assert_eq!(c.log.format, LogFormat::Json);

    let err = c
        .apply_env(|k| (k == "PORTCULLIS_LISTEN").then(|| "nope".to_string()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("PORTCULLIS_LISTEN"), "{err}");
}

#[test]
fn sqlite_file_of_locations() {
    let f = |s: &str| DatabaseLocation::Sqlite(s.into()).sqlite_file();
    assert_eq!(f("sqlite:///tmp/a.db"), Some(PathBuf::from("/tmp/a.db")));
    assert_eq!(f("sqlite:a.db?mode=rwc"), Some(PathBuf::from("a.db")));
    assert_eq!(f("/x/y.db"), Some(PathBuf::from("/x/y.db")));
    assert_eq!(f("sqlite::memory:"), None);
    assert_eq!(
        DatabaseLocation::Remote("postgres://h".into()).sqlite_file(),
        None
    );
}

#[test]
fn a_bad_trusted_proxy_is_refused() {
    assert!(Config::from_toml_str("[server]\ntrusted_proxies = [\"x/1\"]\n", "f").is_err());
}

#[test]
fn proxy_header_and_metrics_listen() {
    let c = Config::default();
    assert_eq!(c.server.proxy_header, ProxyHeader::XForwardedFor);
    assert_eq!(c.server.metrics_listen, None);
    let mut c = Config::from_toml_str(
        "[server]\nproxy_header = \"forwarded\"\nmetrics_listen = \"127.0.0.1:9100\"\n",
        "f",
    )
    .unwrap();
    assert_eq!(c.server.proxy_header, ProxyHeader::Forwarded);
    assert_eq!(
        c.server.metrics_listen,
        Some("127.0.0.1:9100".parse().unwrap())
    );
    c.validate().unwrap();
    assert!(Config::from_toml_str("[server]\nproxy_header = \"x-real-ip\"\n", "f").is_err());
    let env: HashMap<&str, &str> = [
        ("PORTCULLIS_PROXY_HEADER", "X-Forwarded-For"),
        ("PORTCULLIS_METRICS_LISTEN", "127.0.0.1:8080"),
    ]
    .into_iter()
    .collect();
    c.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(c.server.proxy_header, ProxyHeader::XForwardedFor);
    // The same address as the main listener is refused.
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("metrics_listen")
    );
    let err = c
        .apply_env(|k| (k == "PORTCULLIS_PROXY_HEADER").then(|| "via".to_string()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("PORTCULLIS_PROXY_HEADER"), "{err}");
}

#[test]
fn validation_rejects_weak_argon2() {
    let mut c = Config::default();
    c.core.passwords.argon2.memory_kib = 1024;
    assert!(c.validate().is_err());
}

#[test]
fn browser_sso_table_is_parsed_and_checked() {
    let base = "[[federation.providers]]\nalias = \"corp\"\nissuer = \"https://idp.example\"\n\
                client_ids = [\"app\"]\n[federation.providers.browser_sso]\n\
                client_secret_file = \"/etc/secret\"\n";
    let c = Config::from_toml_str(base, "f").unwrap();
    c.validate().unwrap();
    let b = c.federation.providers[0].browser_sso.as_ref().unwrap();
    assert_eq!(b.client_secret_file, std::path::Path::new("/etc/secret"));
    assert_eq!(b.scopes, ["openid", "email", "profile"]);
    let foreign = Config::from_toml_str(&format!("{base}client_id = \"other\"\n"), "f").unwrap();
    assert!(foreign.validate().is_err(), "client_id outside client_ids");
    let no_openid = Config::from_toml_str(&format!("{base}scopes = [\"email\"]\n"), "f").unwrap();
    assert!(no_openid.validate().is_err());
    assert!(Config::from_toml_str(&format!("{base}client_secret = \"x\"\n"), "f").is_err());
}

#[test]
fn connection_limits_and_feed_staleness_are_parsed_and_checked() {
    let c = Config::default();
    assert_eq!(c.server.header_read_timeout_secs, 10);
    assert_eq!(c.server.max_connections, 10_000);
    assert_eq!(c.server.max_connections_per_ip, 256);
    assert_eq!(c.server.revocation_feed_stale_secs, 5);
    let c = Config::from_toml_str(
        "[server]\nheader_read_timeout_secs = 3\nmax_connections = 50\n\
         max_connections_per_ip = 4\nrevocation_feed_stale_secs = 9\n",
        "f",
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.server.header_read_timeout_secs, 3);
    assert_eq!(c.server.max_connections, 50);
    assert_eq!(c.server.max_connections_per_ip, 4);
    assert_eq!(c.server.revocation_feed_stale_secs, 9);
    for key in [
        "header_read_timeout_secs",
        "max_connections",
        "max_connections_per_ip",
        "revocation_feed_stale_secs",
    ] {
        let c = Config::from_toml_str(&format!("[server]\n{key} = 0\n"), "f").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
    assert!(Config::from_toml_str("[server]\nmax_connections = -1\n", "f").is_err());
}

#[test]
fn secrets_are_redacted_in_urls_debug_and_printed_copies() {
    for (url, shown) in [
        ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
        (
            "postgres://u:p/w?x@y@h:5432/db",
            "postgres://u:***@h:5432/db",
        ),
        (
            "postgres://h/db?user=u&password=pw&sslmode=require",
            "postgres://h/db?user=u&password=***&sslmode=require",
        ),
        (
            "postgresql://u@h/db?sslpassword=pw",
            "postgresql://u@h/db?sslpassword=***",
        ),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("sqlite:///tmp/a.db?mode=rwc", "sqlite:///tmp/a.db?mode=rwc"),
        ("/var/lib/p.db", "/var/lib/p.db"),
        // The driver's URL parser drops tabs and newlines, so the password is still one.
        ("postgres:\t\t//u:pw@h/db", "postgres://u:***@h/db"),
        ("postgres://u:p\nw@h/db\r\n", "postgres://u:***@h/db"),
        (" \tpostgres://u:pw@h/db", "postgres://u:***@h/db"),
    ] {
        assert_eq!(redact_url(url), shown, "{url}");
    }
    let mut c = Config::default();
    c.server.database_url = Some("postgres://u:Db-Pa55@h/db".into());
    c.core.sandbox.shared_secret = Some("Sandbox-S3cret".into());
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("Db-Pa55") && !debug.contains("Sandbox-S3cret"),
        "{debug}"
    );
    let shown = c.redacted();
    let text = toml::to_string(&shown).unwrap();
    assert!(
        !text.contains("Db-Pa55") && !text.contains("Sandbox-S3cret"),
        "{text}"
    );
    assert_eq!(shown.core.sandbox.shared_secret.as_deref(), Some(REDACTED));
    // The original keeps its secrets for use.
    assert_eq!(
        c.core.sandbox.shared_secret.as_deref(),
        Some("Sandbox-S3cret")
    );
}

#[test]
fn branding_is_read_and_bad_values_are_refused_by_key() {
    let c = Config::from_toml_str(
        "[core.branding]\nproduct_name = \"Example ID\"\naccent = \"#0b2a5b\"\n\
         logo_url = \"https://cdn.example.com/logo.svg\"\n\
         [core.branding.orgs.acme]\ndisplay_name = \"Acme\"\naccent = \"#b0361e\"\n",
        "f",
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.core.branding.brand(Some("acme")).name, "Acme");
    assert_eq!(c.core.branding.brand(None).name, "Example ID");
    for (toml, key) in [
        (
            "[core.branding]\naccent = \"blue\"\n",
            "core.branding.accent",
        ),
        (
            "[core.branding]\nlogo_url = \"http://cdn.example.com/l.png\"\n",
            "core.branding.logo_url",
        ),
        (
            "[core.branding.orgs.acme]\naccent = \"#12345g\"\n",
            "core.branding.orgs.acme.accent",
        ),
        (
            "[core.branding.orgs.\"Acme Inc\"]\ndisplay_name = \"A\"\n",
            "core.branding.orgs",
        ),
    ] {
        let c = Config::from_toml_str(toml, "f").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
    // Unknown keys are refused by name, like everywhere else.
    let err = Config::from_toml_str("[core.branding]\ncolour = \"#ffffff\"\n", "f")
        .unwrap_err()
        .to_string();
    assert!(err.contains("colour"), "{err}");
}
