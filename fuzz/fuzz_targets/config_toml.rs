//! The TOML configuration loader (`Config::from_toml_str`, then `validate` and `redacted`).
//!
//! Invariants: parsing is deterministic (a refused file is refused with the same message); an
//! accepted file serialises back to TOML that parses to the same configuration (what
//! `portcullis config` prints can be loaded again); `validate` answers the same twice; the
//! redacted copy and the `Debug` form never show the database URL's password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_server::config::{Config, ConfigError, redact_url};

fn message(r: &Result<Config, ConfigError>) -> Option<String> {
    r.as_ref().err().map(ToString::to_string)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = Config::from_toml_str(text, "fuzz.toml");
    let again = Config::from_toml_str(text, "fuzz.toml");
    assert_eq!(message(&first), message(&again));
    let Ok(cfg) = first else {
        return;
    };
    assert_eq!(Some(&cfg), again.as_ref().ok());
    let printed = toml::to_string(&cfg).expect("a loaded configuration prints as TOML");
    let back = Config::from_toml_str(&printed, "printed.toml")
        .unwrap_or_else(|e| panic!("the printed configuration does not load: {e}\n{printed}"));
    assert_eq!(
        back, cfg,
        "printing and loading changed the configuration\n{printed}"
    );
    let v1 = cfg.validate().map_err(|e| e.to_string());
    assert_eq!(v1, cfg.validate().map_err(|e| e.to_string()));

    if let Some(url) = &cfg.server.database_url
        && let Ok(parsed) = url::Url::parse(url)
        && let Some(password) = parsed.password().filter(|p| !p.is_empty() && *p != "***")
    {
        let leak = format!(":{password}@");
        assert!(
            !redact_url(url).contains(&leak),
            "redact_url shows the password"
        );
        let redacted = cfg.redacted();
        assert!(
            !format!("{redacted:?}").contains(&leak),
            "redacted() shows the password"
        );
        assert!(
            !format!("{cfg:?}").contains(&leak),
            "Debug shows the password"
        );
    }
});
