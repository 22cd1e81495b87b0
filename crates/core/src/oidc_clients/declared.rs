//! Clients declared in the configuration file (`[[core.oidc.clients]]`): the file is their
//! source of truth, reconciled into the store at every start
//! (`use_cases::reconcile_declared_clients`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{ClientSpec, OidcConfig, check_client_id, hash_client_secret, uses_secret};
use crate::error::{CoreError, CoreResult};
use crate::model::*;

/// A declared secret must be at least this long: it is compared by a fast hash, so it needs
/// the entropy of a generated one.
pub const MIN_DECLARED_SECRET_LEN: usize = 32;

/// One `[[core.oidc.clients]]` table. Its fields are those of a [`ClientSpec`] but for the
/// secret, read from `secret_file`, and the org, named by id or name in `org`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClient {
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuth>,
    /// A file holding the secret (one line), for `client_secret_basic`/`client_secret_post`.
    /// Read and hashed at start; the secret is kept in memory no longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<BTreeSet<GrantType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<BTreeSet<String>>,
    /// The org (id or name) the client belongs to; none: a global client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_alg: Option<IdTokenAlg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_secs: Option<i64>,
    #[serde(default)]
    pub allow_offline: bool,
    #[serde(default)]
    pub introspect_any: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// RFC 8693: the audiences the client may exchange tokens for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_audiences: Vec<String>,
}

/// A declared client ready to reconcile: its spec (org not yet resolved), the org reference,
/// and the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedClient {
    pub spec: ClientSpec,
    pub org: Option<String>,
    /// Hex SHA-256 of the file's secret; `None` for a method without one.
    pub secret_hash: Option<String>,
}

fn invalid(id: &str, m: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidArgument(format!("core.oidc.clients {id:?}: {m}"))
}

impl DeclaredClient {
    /// The spec this table declares, without its org.
    pub fn spec(&self) -> ClientSpec {
        ClientSpec {
            client_id: Some(self.client_id.clone()),
            name: self.name.clone(),
            kind: self.kind,
            token_endpoint_auth: self.token_endpoint_auth_method,
            jwks: self.jwks.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grant_types: self.grant_types.clone(),
            scopes: self.scopes.clone(),
            org_id: None,
            first_party: self.first_party,
            id_token_alg: self.id_token_alg,
            access_token_secs: self.access_token_secs,
            refresh_token_secs: self.refresh_token_secs,
            allow_offline: self.allow_offline,
            introspect_any: self.introspect_any,
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            token_exchange_audiences: self.token_exchange_audiences.clone(),
        }
    }

    /// Every rule that needs neither the store nor the secret file: the client rules, and a
    /// `secret_file` exactly when the method uses a secret.
    pub fn validate(&self, cfg: &OidcConfig) -> CoreResult<()> {
        let id = &self.client_id;
        check_client_id(id)?;
        let mut spec = self.spec();
        // The org is resolved against the store at start; here only whether one is named
        // counts (the client-credentials rule).
        spec.org_id = self.org.as_ref().map(|_| OrgId::NONE);
        let client = spec.validate(cfg, Utc::now()).map_err(|e| invalid(id, e))?;
        match (uses_secret(client.token_endpoint_auth), &self.secret_file) {
            (true, None) => Err(invalid(
                id,
                format!(
                    "{} needs secret_file, a file holding the secret",
                    client.token_endpoint_auth
                ),
            )),
            (false, Some(_)) => Err(invalid(
                id,
                format!(
                    "secret_file is only for client_secret_basic or client_secret_post, not {}",
                    client.token_endpoint_auth
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Validates, then reads and hashes the secret file.
    pub fn load(&self, cfg: &OidcConfig) -> CoreResult<LoadedClient> {
        self.validate(cfg)?;
        let secret_hash = match &self.secret_file {
            Some(path) => Some(read_secret(path).map_err(|m| invalid(&self.client_id, m))?),
            None => None,
        };
        Ok(LoadedClient {
            spec: self.spec(),
            org: self.org.clone(),
            secret_hash,
        })
    }
}

/// The hash of the one-line secret in `path` (a final newline is not part of it). Errors name
/// the file, never its content.
fn read_secret(path: &std::path::Path) -> Result<String, String> {
    let shown = path.display();
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read secret_file {shown}: {e}"))?,
    );
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| format!("secret_file {shown} is not UTF-8 text"))?;
    let secret = text.strip_suffix('\n').unwrap_or(text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.len() < MIN_DECLARED_SECRET_LEN {
        return Err(format!(
            "the secret in {shown} must be at least {MIN_DECLARED_SECRET_LEN} characters"
        ));
    }
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the secret in {shown} must be one line without spaces"
        ));
    }
    Ok(hash_client_secret(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn declared(v: Value) -> DeclaredClient {
        serde_json::from_value(v).unwrap()
    }

    fn confidential() -> Value {
        json!({
            "client_id": "grafana",
            "name": "Grafana",
            "kind": "confidential",
            "redirect_uris": ["https://grafana.example.com/login/generic_oauth"],
        })
    }

    #[test]
    fn a_secret_method_needs_a_secret_file_and_others_refuse_one() {
        let cfg = OidcConfig::default();
        let err = declared(confidential()).validate(&cfg).unwrap_err();
        assert!(err.to_string().contains("needs secret_file"), "{err}");
        let public = declared(json!({
            "client_id": "cli.app",
            "name": "CLI",
            "kind": "public",
            "redirect_uris": ["http://127.0.0.1/cb"],
            "secret_file": "/x",
        }));
        let err = public.validate(&cfg).unwrap_err();
        assert!(err.to_string().contains("secret_file is only for"), "{err}");
    }

    #[test]
    fn the_secret_file_is_hashed_and_checked() {
        let cfg = OidcConfig::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
        std::fs::write(&path, format!("{secret}\n")).unwrap();
        let mut d = declared(confidential());
        d.secret_file = Some(path.clone());
        let loaded = d.load(&cfg).unwrap();
        assert_eq!(loaded.secret_hash, Some(hash_client_secret(secret)));
        assert_eq!(loaded.spec.client_id.as_deref(), Some("grafana"));

        std::fs::write(&path, "short\n").unwrap();
        let err = d.load(&cfg).unwrap_err().to_string();
        assert!(err.contains("at least 32"), "{err}");
        assert!(
            !err.contains("short\n") && !err.contains("\"short\""),
            "{err}"
        );
        std::fs::write(&path, format!("{secret} {secret}")).unwrap();
        assert!(d.load(&cfg).unwrap_err().to_string().contains("one line"));
        d.secret_file = Some(dir.path().join("missing"));
        assert!(
            d.load(&cfg)
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }

    #[test]
    fn a_declared_client_obeys_the_client_rules() {
        let mut d = declared(confidential());
        d.redirect_uris = vec!["http://grafana.example.com/cb".into()];
        d.secret_file = Some("/x".into());
        let err = d.validate(&OidcConfig::default()).unwrap_err().to_string();
        assert!(
            err.contains("\"grafana\"") && err.contains("loopback"),
            "{err}"
        );
    }
}
