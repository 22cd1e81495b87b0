//! The configuration file schema and its layering: built-in defaults, then the TOML file, then
//! `PORTCULLIS_*` environment variables, then command-line flags (applied by the binary).
//!
//! ```toml
//! [server]      # HTTP listener, data directory, database, proxies, limits
//! [log]         # format and level
//! [bootstrap]   # the first admin on an empty store
//! [core]        # portcullis_core::config::CoreConfig (tokens, passwords, lockout, ...)
//! [federation]  # upstream OpenID providers ([[federation.providers]], portcullis-federation)
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use portcullis_core::config::CoreConfig;
use portcullis_edge::{Cidr, ProxyHeader};
use portcullis_federation::ProviderConfig;
use serde::{Deserialize, Serialize};

mod database;

pub use database::{DatabaseLocation, REDACTED, redact_url};

/// One mebibyte: the default request body limit.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML parser's message names the key and shows the line.
    #[error("invalid configuration file {path}:\n{message}")]
    Parse { path: String, message: String },
    #[error("invalid value for {name}: {message}")]
    Env { name: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub log: LogConfig,
    pub bootstrap: BootstrapConfig,
    pub core: CoreConfig,
    pub federation: FederationConfig,
}

/// Upstream OpenID providers (`docs/design/federation.md`). Empty: federated logins are off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    pub providers: Vec<ProviderConfig>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port the HTTP server listens on.
    pub listen: SocketAddr,
    /// Holds the embedded SQLite database and the master key file.
    pub data_dir: PathBuf,
    /// `sqlite://…`, a file path, or `postgres://…`; unset = `<data_dir>/portcullis.db`.
    pub database_url: Option<String>,
    /// Peers whose `Forwarded`/`X-Forwarded-For` headers are believed (CIDRs or addresses).
    pub trusted_proxies: Vec<Cidr>,
    /// The one forwarding header the trusted proxies set: `x-forwarded-for` (default) or
    /// `forwarded`. The other is ignored, so a client cannot smuggle an address through the
    /// header its proxy passes along untouched.
    pub proxy_header: ProxyHeader,
    /// When set, `/metrics` is served only on this address (e.g. an internal interface) and
    /// not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Requests taking longer are answered with 503.
    pub request_timeout_secs: u64,
    /// Larger request bodies are answered with 413.
    pub body_limit_bytes: usize,
    /// After SIGTERM/SIGINT, how long in-flight requests may take before they are dropped.
    pub shutdown_grace_secs: u64,
    /// A connection that has not sent a whole request head (request line and headers) this
    /// long after it opened, or after its previous response, is closed: a slow or idle client
    /// cannot hold a connection.
    pub header_read_timeout_secs: u64,
    /// Open connections at most; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64) at most; `trusted_proxies` peers,
    /// which carry many clients, only count against `max_connections`.
    pub max_connections_per_ip: usize,
    /// `/readyz` answers 503 once the revocation feed has not been read for this long: a node
    /// that cannot see revocations made elsewhere should not get traffic.
    pub revocation_feed_stale_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("portcullis-data"),
            database_url: None,
            trusted_proxies: Vec::new(),
            proxy_header: ProxyHeader::default(),
            metrics_listen: None,
            request_timeout_secs: 30,
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            shutdown_grace_secs: 30,
            header_read_timeout_secs: 10,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            revocation_feed_stale_secs: 5,
        }
    }
}

/// Hand-written so that a logged configuration never shows the database password.
impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured: a new field must be added here to compile.
        let ServerConfig {
            listen,
            data_dir,
            database_url,
            trusted_proxies,
            proxy_header,
            metrics_listen,
            request_timeout_secs,
            body_limit_bytes,
            shutdown_grace_secs,
            header_read_timeout_secs,
            max_connections,
            max_connections_per_ip,
            revocation_feed_stale_secs,
        } = self;
        f.debug_struct("ServerConfig")
            .field("listen", listen)
            .field("data_dir", data_dir)
            .field("database_url", &database_url.as_deref().map(redact_url))
            .field("trusted_proxies", trusted_proxies)
            .field("proxy_header", proxy_header)
            .field("metrics_listen", metrics_listen)
            .field("request_timeout_secs", request_timeout_secs)
            .field("body_limit_bytes", body_limit_bytes)
            .field("shutdown_grace_secs", shutdown_grace_secs)
            .field("header_read_timeout_secs", header_read_timeout_secs)
            .field("max_connections", max_connections)
            .field("max_connections_per_ip", max_connections_per_ip)
            .field("revocation_feed_stale_secs", revocation_feed_stale_secs)
            .finish()
    }
}

impl ServerConfig {
    /// The database to open: the configured URL or the embedded SQLite file in the data dir.
    pub fn database_location(&self) -> DatabaseLocation {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => {
                let url = url.trim();
                if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    DatabaseLocation::Remote(url.to_owned())
                } else {
                    DatabaseLocation::Sqlite(url.to_owned())
                }
            }
            _ => DatabaseLocation::Sqlite(
                self.data_dir
                    .join(DATABASE_FILE)
                    .to_string_lossy()
                    .into_owned(),
            ),
        }
    }

    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join(KEY_FILE)
    }
}

/// The embedded database's file name inside the data directory.
pub const DATABASE_FILE: &str = "portcullis.db";
/// The master key file's name inside the data directory.
pub const KEY_FILE: &str = "master.key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pretty" | "text" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?} (expected pretty or json)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,portcullis_core=debug`; `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapConfig {
    /// Email of the super-admin created on an empty store.
    pub admin_email: String,
    /// Name of the org created on an empty store.
    pub org_name: String,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            admin_email: "admin@portcullis.local".into(),
            org_name: "default".into(),
        }
    }
}

impl Config {
    /// A copy fit to print or log: every secret it holds is replaced. (Federation client
    /// secrets print as `<redacted>` by themselves; the bootstrap password and the master key
    /// never live in the configuration.)
    pub fn redacted(&self) -> Config {
        let mut shown = self.clone();
        if let Some(url) = &shown.server.database_url {
            shown.server.database_url = Some(redact_url(url));
        }
        if shown.core.sandbox.shared_secret.is_some() {
            shown.core.sandbox.shared_secret = Some(REDACTED.to_owned());
        }
        shown
    }

    /// Parses a TOML document; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str::<Config>(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text, &path.display().to_string())
    }

    /// Applies `PORTCULLIS_*` overrides read through `get` (normally `std::env::var`). An empty
    /// variable counts as unset.
    pub fn apply_env<F>(&mut self, get: F) -> Result<(), ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        fn parsed<T: FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            value.trim().parse::<T>().map_err(|e| ConfigError::Env {
                name: name.to_owned(),
                message: e.to_string(),
            })
        }
        if let Some(v) = var(ENV_LISTEN) {
            self.server.listen = parsed(ENV_LISTEN, &v)?;
        }
        if let Some(v) = var(ENV_DATA_DIR) {
            self.server.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var(ENV_DATABASE_URL) {
            self.server.database_url = Some(v.trim().to_owned());
        }
        if let Some(v) = var(ENV_TRUSTED_PROXIES) {
            self.server.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parsed::<Cidr>(ENV_TRUSTED_PROXIES, s))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = var(ENV_PROXY_HEADER) {
            self.server.proxy_header = parsed(ENV_PROXY_HEADER, &v)?;
        }
        if let Some(v) = var(ENV_METRICS_LISTEN) {
            self.server.metrics_listen = Some(parsed(ENV_METRICS_LISTEN, &v)?);
        }
        if let Some(v) = var(ENV_REQUEST_TIMEOUT_SECS) {
            self.server.request_timeout_secs = parsed(ENV_REQUEST_TIMEOUT_SECS, &v)?;
        }
        if let Some(v) = var(ENV_BODY_LIMIT_BYTES) {
            self.server.body_limit_bytes = parsed(ENV_BODY_LIMIT_BYTES, &v)?;
        }
        if let Some(v) = var(ENV_SHUTDOWN_GRACE_SECS) {
            self.server.shutdown_grace_secs = parsed(ENV_SHUTDOWN_GRACE_SECS, &v)?;
        }
        if let Some(v) = var(ENV_LOG_FORMAT) {
            self.log.format = parsed(ENV_LOG_FORMAT, &v)?;
        }
        if let Some(v) = var(ENV_LOG_LEVEL) {
            self.log.level = v.trim().to_owned();
        }
        if let Some(v) = var(ENV_PUBLIC_URL) {
            self.core.public_url = v.trim().to_owned();
        }
        if let Some(v) = var(ENV_BOOTSTRAP_ADMIN_EMAIL) {
            self.bootstrap.admin_email = v.trim().to_owned();
        }
        Ok(())
    }

    /// Checks what the server needs before it touches anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.body_limit_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.body_limit_bytes must be positive".into(),
            ));
        }
        if self.server.request_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "server.request_timeout_secs must be positive".into(),
            ));
        }
        for (name, value) in [
            (
                "server.header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
            ("server.max_connections", self.server.max_connections as u64),
            (
                "server.max_connections_per_ip",
                self.server.max_connections_per_ip as u64,
            ),
            (
                "server.revocation_feed_stale_secs",
                self.server.revocation_feed_stale_secs,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        if self.server.metrics_listen == Some(self.server.listen) {
            return Err(ConfigError::Invalid(
                "server.metrics_listen must differ from server.listen".into(),
            ));
        }
        if self.server.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "server.data_dir must not be empty".into(),
            ));
        }
        self.core
            .passwords
            .argon2
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("core.passwords.argon2: {e}")))?;
        if !portcullis_core::rid::is_valid_instance(&self.core.rid_instance) {
            return Err(ConfigError::Invalid(format!(
                "core.rid_instance {:?} must match [a-z0-9][a-z0-9-]*",
                self.core.rid_instance
            )));
        }
        if !portcullis_core::is_valid_email(&self.bootstrap.admin_email) {
            return Err(ConfigError::Invalid(format!(
                "bootstrap.admin_email {:?} is not an email address",
                self.bootstrap.admin_email
            )));
        }
        if self.bootstrap.org_name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "bootstrap.org_name must not be empty".into(),
            ));
        }
        self.core
            .branding
            .validate()
            .map_err(ConfigError::Invalid)?;
        let mut aliases = std::collections::BTreeSet::new();
        let mut issuers = std::collections::BTreeSet::new();
        for p in &self.federation.providers {
            p.validate()
                .map_err(|e| ConfigError::Invalid(format!("federation.providers: {e}")))?;
            if !aliases.insert(p.alias.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "federation.providers: duplicate alias {:?}",
                    p.alias
                )));
            }
            if !issuers.insert(p.issuer.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "federation.providers: two providers share the issuer {:?}",
                    p.issuer
                )));
            }
        }
        Ok(())
    }
}

pub const ENV_CONFIG: &str = "PORTCULLIS_CONFIG";
pub const ENV_LISTEN: &str = "PORTCULLIS_LISTEN";
pub const ENV_DATA_DIR: &str = "PORTCULLIS_DATA_DIR";
pub const ENV_DATABASE_URL: &str = "PORTCULLIS_DATABASE_URL";
pub const ENV_TRUSTED_PROXIES: &str = "PORTCULLIS_TRUSTED_PROXIES";
pub const ENV_PROXY_HEADER: &str = "PORTCULLIS_PROXY_HEADER";
pub const ENV_METRICS_LISTEN: &str = "PORTCULLIS_METRICS_LISTEN";
pub const ENV_REQUEST_TIMEOUT_SECS: &str = "PORTCULLIS_REQUEST_TIMEOUT_SECS";
pub const ENV_BODY_LIMIT_BYTES: &str = "PORTCULLIS_BODY_LIMIT_BYTES";
pub const ENV_SHUTDOWN_GRACE_SECS: &str = "PORTCULLIS_SHUTDOWN_GRACE_SECS";
pub const ENV_LOG_FORMAT: &str = "PORTCULLIS_LOG_FORMAT";
pub const ENV_LOG_LEVEL: &str = "PORTCULLIS_LOG_LEVEL";
pub const ENV_PUBLIC_URL: &str = "PORTCULLIS_PUBLIC_URL";
pub const ENV_BOOTSTRAP_ADMIN_EMAIL: &str = "PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL";
pub const ENV_BOOTSTRAP_ADMIN_PASSWORD: &str = "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD";
pub const ENV_MASTER_KEY: &str = "PORTCULLIS_MASTER_KEY";

#[cfg(test)]
mod tests;
