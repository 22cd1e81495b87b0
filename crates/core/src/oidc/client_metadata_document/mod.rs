//! OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a
//! `client_id` that is an https URL names a JSON document describing the client. The rules
//! are here: which URLs qualify, from which addresses they may be fetched (`address.rs`),
//! size and time limits, what the document must say, and how long it is trusted. The HTTP
//! fetch itself is a port ([`MetadataDocumentFetcher`]) the binary wires in, like the
//! back-channel logout sender. docs/design/oidc-provider.md, "Registration".

mod address;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use url::{Host, Url};

use super::error::OAuthError;
use super::provider::Provider;
use super::registration::metadata::{self, Source};
use super::request::AuthorizeError;
use crate::audit::{AuditAction, AuditContext};
use crate::model::*;
use crate::oidc_clients::MetadataDocumentConfig;
use crate::store::StoreError;

pub use address::is_forbidden_address;

/// The longest client id (the provider looks up no longer one).
pub const MAX_CLIENT_ID_URL: usize = 255;

/// What a fetch may read and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// A fetched document: its body (at most `max_bytes`) and its `Cache-Control` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedDocument {
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL or an address it resolves to is not allowed.
    #[error("refused: {0}")]
    Refused(String),
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the fetch took longer than the limit")]
    Timeout,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the fetch failed: {0}")]
    Network(String),
}

/// Fetches a document with a GET: no redirects, no proxy, the limits enforced while reading,
/// and a connection only to an address [`is_forbidden_address`] allows (unless the operator
/// allowed private addresses), checked after resolution so DNS cannot rebind it.
#[async_trait]
pub trait MetadataDocumentFetcher: Send + Sync {
    async fn fetch(&self, url: &Url, limits: FetchLimits) -> Result<FetchedDocument, FetchError>;
}

/// Whether a client id asks for a metadata document (before any rule is applied).
pub fn is_url_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The client id as a URL a document may be fetched from, or why not. The URL must read
/// exactly as the parser writes it back (so no dot segments, no case or escaping games: the
/// document's `client_id` is compared with this same string).
pub fn check_client_id_url(raw: &str, cfg: &MetadataDocumentConfig) -> Result<Url, String> {
    if raw.len() > MAX_CLIENT_ID_URL {
        return Err(format!(
            "the client id is longer than {MAX_CLIENT_ID_URL} bytes"
        ));
    }
    let url = Url::parse(raw).map_err(|_| "the client id is not a URL".to_string())?;
    match url.scheme() {
        "https" => {}
        "http" if cfg.allow_http => {}
        _ => return Err("the client id must be an https URL".into()),
    }
    if url.as_str() != raw {
        return Err(
            "the client id must be a normalised URL (no dot segments, lower-case host)".into(),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the client id must not carry user information".into());
    }
    if url.fragment().is_some() || url.query().is_some() {
        return Err("the client id must have no query and no fragment".into());
    }
    if url.path() == "/" {
        return Err("the client id must have a path".into());
    }
    let host = url.host().ok_or("the client id has no host")?;
    if !cfg.allowed_hosts.is_empty() {
        let name = url.host_str().unwrap_or_default();
        if !cfg
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            return Err(format!("documents from {name} are not accepted here"));
        }
    }
    let literal: Option<IpAddr> = match host {
        Host::Ipv4(a) => Some(a.into()),
        Host::Ipv6(a) => Some(a.into()),
        Host::Domain(_) => None,
    };
    if !cfg.allow_private_addresses && literal.is_some_and(is_forbidden_address) {
        return Err("the client id names a private or special address".into());
    }
    Ok(url)
}

/// How long a document is trusted: its `max-age` within the configured bounds; `no-store` or
/// `no-cache` the minimum; nothing said, the default.
pub fn cache_secs(cache_control: Option<&str>, cfg: &MetadataDocumentConfig) -> i64 {
    let Some(cc) = cache_control else {
        return cfg.default_cache_secs;
    };
    let mut max_age = None;
    for d in cc.split(',').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return cfg.min_cache_secs;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            max_age = v.trim_matches('"').parse::<i64>().ok();
        }
    }
    max_age.map_or(cfg.default_cache_secs, |s| {
        s.clamp(cfg.min_cache_secs, cfg.max_cache_secs)
    })
}

/// The client a document describes: always public and third-party (consent always, PKCE
/// always), with the same metadata rules as dynamic registration.
pub fn client_from_document(
    url: &Url,
    body: &[u8],
    provider_cfg: &crate::oidc_clients::OidcConfig,
    now: Timestamp,
) -> Result<(OAuthClient, Value), String> {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Err("the document is not a JSON object".into());
    };
    if doc.get("client_id").and_then(Value::as_str) != Some(url.as_str()) {
        return Err("the document's client_id is not its own URL".into());
    }
    let describe = |e: OAuthError| format!("{}: {}", e.code, e.description);
    let accepted = metadata::accept(&doc, &provider_cfg.registration.scopes, Source::Document)
        .map_err(describe)?;
    let metadata = Value::Object(accepted.metadata.clone());
    let mut client = accepted.client(provider_cfg, now).map_err(describe)?;
    client.client_id = url.as_str().to_owned();
    Ok((client, metadata))
}

fn page(m: &str) -> AuthorizeError {
    AuthorizeError::Page(m.to_string())
}

impl Provider {
    /// Wires the HTTP fetch of metadata documents (the binary does, at start). Without one,
    /// URL client ids are unknown clients.
    pub fn set_metadata_document_fetcher(&self, fetcher: Arc<dyn MetadataDocumentFetcher>) {
        let _ = self.registration.fetcher.set(fetcher);
    }

    /// Whether discovery announces `client_id_metadata_document_supported`.
    pub fn metadata_documents_supported(&self) -> bool {
        self.engine
            .config()
            .oidc
            .registration
            .metadata_documents
            .enabled
            && self.registration.fetcher.get().is_some()
    }

    /// The client an authorization request's URL `client_id` describes: the stored copy while
    /// it is fresh, else the document fetched again. Every refusal is a page (the redirect URI
    /// cannot be trusted before the document is).
    pub(crate) async fn metadata_document_client(
        &self,
        client_id: &str,
        ctx: &AuditContext,
    ) -> Result<OAuthClient, AuthorizeError> {
        let unknown = "This application is unknown or disabled.";
        let cfg = &self.engine.config().oidc.registration.metadata_documents;
        let fetcher = match self.registration.fetcher.get() {
            Some(f) if cfg.enabled => f.clone(),
            _ => return Err(page(unknown)),
        };
        let url = match check_client_id_url(client_id, cfg) {
            Ok(u) => u,
            Err(why) => {
                self.audit_document(
                    ctx,
                    client_id,
                    AuditOutcome::Failure,
                    json!({ "reason": why }),
                )
                .await;
                return Err(page(
                    "This application's address (client_id) is not accepted here.",
                ));
            }
        };
        let store = self.engine.store();
        let lookup_failed = |_| page("The server could not look up the application.");
        let now = Utc::now();
        let stored = store
            .get_client_registration(client_id)
            .await
            .map_err(lookup_failed)?;
        let existing = store
            .get_oauth_client(client_id)
            .await
            .map_err(lookup_failed)?;
        if existing.as_ref().is_some_and(OAuthClient::is_disabled) {
            return Err(page(unknown)); // an operator stopped it: not even fetched
        }
        if let (Some(reg), Some(c)) = (&stored, &existing)
            && reg.refresh_after.is_some_and(|t| t > now)
        {
            return Ok(c.clone());
        }
        // Every fetch counts against the caller's address, like a registration.
        let ip = ctx.ip.as_deref().and_then(|s| s.parse().ok());
        if !self.registration.allow_fetch(ip) {
            return Err(page(
                "Too many requests from this address; try again later.",
            ));
        }
        let limits = FetchLimits {
            max_bytes: cfg.max_bytes,
            timeout: Duration::from_millis(cfg.timeout_ms),
        };
        // The core bounds the time and the size whatever the fetcher does.
        let fetched = match tokio::time::timeout(limits.timeout, fetcher.fetch(&url, limits)).await
        {
            Ok(Ok(d)) if d.body.len() <= limits.max_bytes => Ok(d),
            Ok(Ok(_)) => Err(FetchError::TooLarge(limits.max_bytes)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(FetchError::Timeout),
        };
        let accepted = fetched.map_err(|e| e.to_string()).and_then(|d| {
            let secs = cache_secs(d.cache_control.as_deref(), cfg);
            client_from_document(&url, &d.body, &self.engine.config().oidc, now)
                .map(|(c, m)| (c, m, secs))
        });
        let (mut client, metadata, secs) = match accepted {
            Ok(a) => a,
            Err(why) => {
                self.audit_document(
                    ctx,
                    client_id,
                    AuditOutcome::Failure,
                    json!({ "reason": why }),
                )
                .await;
                return Err(page(
                    "This application's metadata document could not be used. Ask its \
                     publisher to check it.",
                ));
            }
        };
        let refresh_after = now.checked_add_signed(TimeDelta::seconds(secs));
        let changed = stored.as_ref().is_none_or(|r| r.metadata != metadata);
        let reg = ClientRegistration {
            client_id: client_id.to_owned(),
            source: RegistrationSource::MetadataDocument,
            metadata,
            access_token_hash: None,
            refresh_after,
            created_at: stored.as_ref().map_or(now, |r| r.created_at),
            updated_at: now,
        };
        if let Some(c) = &existing {
            client.created_at = c.created_at;
        }
        let saved = match (&stored, &existing) {
            (Some(_), Some(_)) => store.update_registered_client(client, reg, None).await,
            (None, None) => match store
                .create_registered_client(client.clone(), reg.clone(), None)
                .await
            {
                // Another request stored it first: ours is as fresh.
                Err(StoreError::Conflict(_)) => {
                    store.update_registered_client(client, reg, None).await
                }
                other => other,
            },
            // An id taken by a client registered some other way is never taken over.
            _ => return Err(page(unknown)),
        };
        let client = saved.map_err(|e| {
            tracing::error!(error = %e, "could not store a metadata document client");
            page("The server could not look up the application.")
        })?;
        self.clients_changed();
        if changed {
            let detail = json!({ "name": client.name, "cache_secs": secs });
            self.audit_document(ctx, client_id, AuditOutcome::Success, detail)
                .await;
        }
        Ok(client)
    }

    async fn audit_document(
        &self,
        ctx: &AuditContext,
        url: &str,
        outcome: AuditOutcome,
        detail: Value,
    ) {
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                None,
                AuditAction::ClientMetadataDocument,
                Some(url.chars().take(MAX_CLIENT_ID_URL).collect()),
                outcome,
                detail,
            )
            .await;
    }
}

#[cfg(test)]
mod tests;
