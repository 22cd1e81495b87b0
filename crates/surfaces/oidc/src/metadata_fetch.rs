//! The HTTP fetch of Client ID Metadata Documents, behind the core's
//! [`MetadataDocumentFetcher`] port: a GET with no redirects and no proxy, addresses checked
//! by the core's rule after resolution (reqwest connects only to the addresses the resolver
//! returns, so a second DNS answer cannot rebind the connection to a private one), and the
//! size limit enforced while the body streams in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::oidc::client_metadata_document::{
    FetchError, FetchLimits, FetchedDocument, MetadataDocumentFetcher, is_forbidden_address,
};
use portcullis_core::oidc_clients::MetadataDocumentConfig;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Resolves through the system resolver and refuses a name any of whose addresses is
/// forbidden (one bad address is enough: a client could not tell which one was used).
#[derive(Debug)]
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err("the name has no address".into());
            }
            if !allow_private && addrs.iter().any(|a| is_forbidden_address(a.ip())) {
                return Err(Box::new(Forbidden) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug)]
struct Forbidden;

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves to a private or special address")
    }
}

impl std::error::Error for Forbidden {}

/// Whether `e` (or a cause of it) is the resolver's refusal.
fn is_forbidden(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src = Some(e);
    while let Some(err) = src {
        if err.is::<Forbidden>() {
            return true;
        }
        src = err.source();
    }
    false
}

#[derive(Debug, Clone)]
pub struct HttpMetadataFetcher {
    http: reqwest::Client,
    allow_private: bool,
}

impl HttpMetadataFetcher {
    pub fn new(cfg: &MetadataDocumentConfig) -> Result<HttpMetadataFetcher, String> {
        let timeout = std::time::Duration::from_millis(cfg.timeout_ms);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                allow_private: cfg.allow_private_addresses,
            }))
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("portcullis-client-metadata")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpMetadataFetcher {
            http,
            allow_private: cfg.allow_private_addresses,
        })
    }
}

#[async_trait]
impl MetadataDocumentFetcher for HttpMetadataFetcher {
    async fn fetch(&self, url: &Url, limits: FetchLimits) -> Result<FetchedDocument, FetchError> {
        // An IP literal is never resolved, so the resolver cannot check it: check it here.
        let literal: Option<IpAddr> = match url.host() {
            Some(Host::Ipv4(a)) => Some(a.into()),
            Some(Host::Ipv6(a)) => Some(a.into()),
            _ => None,
        };
        if !self.allow_private && literal.is_some_and(is_forbidden_address) {
            return Err(FetchError::Refused("a private or special address".into()));
        }
        let sent = self
            .http
            .get(url.clone())
            .header("accept", "application/json")
            .timeout(limits.timeout)
            .send()
            .await;
        let mut answer = match sent {
            Ok(a) => a,
            Err(e) if e.is_timeout() => return Err(FetchError::Timeout),
            Err(e) if is_forbidden(&e) => {
                return Err(FetchError::Refused(
                    "the host resolves to a private or special address".into(),
                ));
            }
            Err(e) => return Err(FetchError::Network(e.to_string())),
        };
        if !answer.status().is_success() {
            return Err(FetchError::Status(answer.status().as_u16()));
        }
        if answer
            .content_length()
            .is_some_and(|n| n > limits.max_bytes as u64)
        {
            return Err(FetchError::TooLarge(limits.max_bytes));
        }
        let cache_control = answer
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limits.max_bytes {
                        return Err(FetchError::TooLarge(limits.max_bytes));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(FetchError::Timeout),
                Err(e) => return Err(FetchError::Network(e.to_string())),
            }
        }
        Ok(FetchedDocument {
            body,
            cache_control,
        })
    }
}
