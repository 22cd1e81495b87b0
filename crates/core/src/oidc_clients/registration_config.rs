//! `[core.oidc.registration]`: who may register a client without an operator (RFC 7591/7592)
//! and whether an https URL may serve as a client id (Client ID Metadata Documents). Both are
//! off by default; docs/design/oidc-provider.md, "Registration", has the rules.

use serde::{Deserialize, Serialize};

/// Whether `POST /register` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// No dynamic registration: `/register` answers 404 and discovery does not list it.
    #[default]
    Off,
    /// Anyone may register a public or low-trust confidential client (rate limited per IP).
    Open,
    /// Registering needs an initial access token (`portcullis admin client initial-token`).
    InitialToken,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    pub mode: RegistrationMode,
    /// Registrations per client IP (IPv6: per /64) per hour, on this node.
    pub per_ip_per_hour: u32,
    /// The scopes a self-registered client may ask for: a subset of `openid profile email
    /// orgs` (never `offline_access`: no offline grant for a client nobody vetted).
    pub scopes: Vec<String>,
    /// `[core.oidc.registration.metadata_documents]`.
    pub metadata_documents: MetadataDocumentConfig,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            mode: RegistrationMode::Off,
            per_ip_per_hour: 20,
            scopes: ["openid", "profile", "email"].map(String::from).into(),
            metadata_documents: MetadataDocumentConfig::default(),
        }
    }
}

/// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): an https
/// `client_id` whose JSON document describes a public client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataDocumentConfig {
    pub enabled: bool,
    /// Hosts whose documents are accepted (exact, case-insensitive); empty: any public host.
    pub allowed_hosts: Vec<String>,
    /// Fetch from private, loopback and link-local addresses too. For tests only: it opens
    /// the server's own network to anyone who can start an authorization request.
    pub allow_private_addresses: bool,
    /// Accept `http://` client ids. For tests only.
    pub allow_http: bool,
    /// The largest document read.
    pub max_bytes: usize,
    /// The whole fetch, connection included.
    pub timeout_ms: u64,
    /// A document is fetched again after its `Cache-Control: max-age`, bounded by these, or
    /// after `default_cache_secs` when it names none.
    pub min_cache_secs: i64,
    pub max_cache_secs: i64,
    pub default_cache_secs: i64,
}

impl Default for MetadataDocumentConfig {
    fn default() -> Self {
        MetadataDocumentConfig {
            enabled: false,
            allowed_hosts: Vec::new(),
            allow_private_addresses: false,
            allow_http: false,
            max_bytes: 5 * 1024,
            timeout_ms: 5000,
            min_cache_secs: 60,
            max_cache_secs: 24 * 3600,
            default_cache_secs: 300,
        }
    }
}

/// The scopes a self-registered client may be allowed.
pub const REGISTRABLE_SCOPES: &[&str] = &["openid", "profile", "email", "orgs"];

impl RegistrationConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.per_ip_per_hour == 0 {
            return Err("core.oidc.registration.per_ip_per_hour must be at least 1".into());
        }
        if let Some(s) = self
            .scopes
            .iter()
            .find(|s| !REGISTRABLE_SCOPES.contains(&s.as_str()))
        {
            return Err(format!(
                "core.oidc.registration.scopes: {s:?} cannot be offered to self-registered \
                 clients; choose from {}",
                REGISTRABLE_SCOPES.join(" ")
            ));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err("core.oidc.registration.scopes must include openid".into());
        }
        let m = &self.metadata_documents;
        let key = "core.oidc.registration.metadata_documents";
        if !(256..=64 * 1024).contains(&m.max_bytes) {
            return Err(format!("{key}.max_bytes must be from 256 to 65536"));
        }
        if !(100..=30_000).contains(&m.timeout_ms) {
            return Err(format!("{key}.timeout_ms must be from 100 to 30000"));
        }
        if m.min_cache_secs < 0
            || m.min_cache_secs > m.max_cache_secs
            || !(m.min_cache_secs..=m.max_cache_secs).contains(&m.default_cache_secs)
            || m.max_cache_secs > 7 * 24 * 3600
        {
            return Err(format!(
                "{key}: need 0 <= min_cache_secs <= default_cache_secs <= max_cache_secs <= 604800"
            ));
        }
        if m.allowed_hosts
            .iter()
            .any(|h| h.is_empty() || h.contains(['/', ':', '@']))
        {
            return Err(format!("{key}.allowed_hosts: host names only"));
        }
        Ok(())
    }
}
