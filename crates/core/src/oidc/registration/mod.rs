//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): who may
//! register (`[core.oidc.registration] mode`), what they may register (`metadata.rs`), the
//! registration access token that alone manages a registration, and the per-IP limit.
//! docs/design/oidc-provider.md, "Registration".

pub(crate) mod metadata;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{Map, Value, json};

use super::client_metadata_document::MetadataDocumentFetcher;
use super::error::OAuthError;
use super::provider::Provider;
use crate::audit::{AuditAction, AuditContext};
use crate::crypto;
use crate::engine::ip_limit_key;
use crate::model::*;
use crate::oidc_clients::{
    RegistrationConfig, RegistrationMode, generate_client_secret, hash_client_secret, uses_secret,
    verify_client_secret,
};
use crate::store::StoreError;
use metadata::{Accepted, Source};

/// Where clients register; a registration is managed at this path + `/{client_id}`.
pub const REGISTRATION_PATH: &str = "/oauth2/register";
/// Random bytes in a registration access token and an initial access token (256 bits).
const TOKEN_BYTES: usize = 32;
/// The per-IP limiter forgets refilled buckets once it tracks this many addresses.
const LIMITER_PRUNE_AT: usize = 10_000;

/// What the provider keeps for registration: the per-IP limiter and the metadata-document
/// fetcher the binary wires in.
pub(crate) struct RegistrationState {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    pub(crate) fetcher: OnceLock<Arc<dyn MetadataDocumentFetcher>>,
}

impl RegistrationState {
    pub(crate) fn new(cfg: &RegistrationConfig) -> Self {
        let n = NonZeroU32::new(cfg.per_ip_per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        RegistrationState {
            limiter: RateLimiter::keyed(Quota::per_hour(n)),
            fetcher: OnceLock::new(),
        }
    }

    /// A metadata-document fetch counts like a registration: both make this server work (and
    /// a fetch reach out) for an unauthenticated caller.
    pub(crate) fn allow_fetch(&self, ip: Option<IpAddr>) -> bool {
        self.allow(ip)
    }

    fn allow(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return true };
        if self.limiter.len() >= LIMITER_PRUNE_AT {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip_limit_key(ip)).is_ok()
    }
}

/// Hex SHA-256 of a bearer token as stored (256 random bits: a fast hash loses nothing).
pub(crate) fn token_hash(token: &str) -> String {
    hash_client_secret(token)
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, OAuthError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OAuthError::invalid_client_metadata(
            "the body must be a JSON object of client metadata (RFC 7591 §2)",
        )),
    }
}

fn invalid_token() -> OAuthError {
    OAuthError::invalid_token("the access token is missing, invalid, expired or revoked")
}

impl Provider {
    fn registration_config(&self) -> &RegistrationConfig {
        &self.engine.config().oidc.registration
    }

    /// Whether `POST /register` is offered (discovery lists it only then).
    pub fn registration_mode(&self) -> RegistrationMode {
        self.registration_config().mode
    }

    /// The URL at which a registration is read, changed and deleted (RFC 7592).
    pub fn registration_client_uri(&self, client_id: &str) -> String {
        format!(
            "{}{REGISTRATION_PATH}/{}",
            self.issuer(),
            super::url_component(client_id)
        )
    }

    /// RFC 7591 §3: registers a low-trust client from its metadata. `bearer` is the initial
    /// access token, required in `initial_token` mode. Answers the client information
    /// response (201): the metadata as accepted, the client id, its secret (once, when it
    /// has one) and the registration access token (once).
    pub async fn register_client(
        &self,
        body: &[u8],
        bearer: Option<&str>,
        ip: Option<IpAddr>,
        ctx: &AuditContext,
    ) -> Result<Value, OAuthError> {
        let mode = self.registration_mode();
        let now = Utc::now();
        let result = self.register_checked(mode, body, bearer, ip, now).await;
        let (outcome, target, detail) = match &result {
            Ok((r, spent)) => (
                AuditOutcome::Success,
                Some(r.client.client_id.clone()),
                json!({ "name": r.client.name, "kind": r.client.kind, "mode": mode_name(mode),
                        "initial_token": spent }),
            ),
            Err(e) => (
                AuditOutcome::Failure,
                None,
                json!({ "error": e.code, "reason": e.description, "mode": mode_name(mode) }),
            ),
        };
        self.engine
            .audit()
            .log(
                ctx,
                now,
                None,
                AuditAction::ClientRegister,
                target,
                outcome,
                detail,
            )
            .await;
        Ok(result?.0.response)
    }

    async fn register_checked(
        &self,
        mode: RegistrationMode,
        body: &[u8],
        bearer: Option<&str>,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(Registered, bool), OAuthError> {
        let initial = match mode {
            RegistrationMode::Off => {
                return Err(OAuthError::invalid_request("client registration is off"));
            }
            RegistrationMode::Open => None,
            RegistrationMode::InitialToken => {
                let hash = token_hash(bearer.ok_or_else(invalid_token)?);
                let usable = self
                    .engine
                    .store()
                    .get_initial_access_token(&hash)
                    .await
                    .map_err(store_err)?
                    .is_some_and(|t| t.is_usable(now));
                if !usable {
                    return Err(invalid_token());
                }
                Some(hash)
            }
        };
        if !self.registration.allow(ip) {
            return Err(OAuthError::temporarily_unavailable(
                "too many registrations from this address; retry later",
            ));
        }
        let accepted = metadata::accept(
            &parse_object(body)?,
            &self.registration_config().scopes,
            Source::Registration,
        )?;
        let registered = self.new_registration(accepted, now)?;
        let stored = self
            .engine
            .store()
            .create_registered_client(
                registered.client.clone(),
                registered.registration.clone(),
                initial.as_deref().map(|h| (h, now)),
            )
            .await;
        match stored {
            Ok(_) => Ok((registered, initial.is_some())),
            // The last use of the initial token went to a concurrent registration.
            Err(StoreError::NotFound(_)) => Err(invalid_token()),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The client, its registration and the response, with fresh credentials.
    fn new_registration(
        &self,
        accepted: Accepted,
        now: Timestamp,
    ) -> Result<Registered, OAuthError> {
        let mut metadata = accepted.metadata.clone();
        let mut client = accepted.client(&self.engine.config().oidc, now)?;
        let secret = uses_secret(client.token_endpoint_auth).then(|| generate_client_secret(now));
        client
            .secrets
            .extend(secret.iter().map(|s| s.stored.clone()));
        let access_token = crypto::random_token(TOKEN_BYTES);
        let registration = ClientRegistration {
            client_id: client.client_id.clone(),
            source: RegistrationSource::Dynamic,
            metadata: Value::Object(metadata.clone()),
            access_token_hash: Some(token_hash(&access_token)),
            refresh_after: None,
            created_at: now,
            updated_at: now,
        };
        metadata.insert("client_id".into(), json!(client.client_id));
        metadata.insert("client_id_issued_at".into(), json!(now.timestamp()));
        if let Some(s) = &secret {
            metadata.insert("client_secret".into(), json!(s.secret.as_str()));
            // Secrets do not expire (RFC 7591 §3.2.1: 0); the client rotates by update.
            metadata.insert("client_secret_expires_at".into(), json!(0));
        }
        metadata.insert("registration_access_token".into(), json!(access_token));
        metadata.insert(
            "registration_client_uri".into(),
            json!(self.registration_client_uri(&client.client_id)),
        );
        Ok(Registered {
            client,
            registration,
            response: Value::Object(metadata),
        })
    }

    /// The client and its registration when `bearer` is that registration's access token.
    /// Anything else (no token, another client's, a deleted registration, a client an
    /// operator made or disabled) is `invalid_token` (RFC 7592 §3).
    async fn managed(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<(OAuthClient, ClientRegistration), OAuthError> {
        let bearer = bearer.ok_or_else(invalid_token)?;
        if client_id.is_empty() || client_id.len() > 256 {
            return Err(invalid_token());
        }
        let store = self.engine.store();
        let reg = store
            .get_client_registration(client_id)
            .await
            .map_err(store_err)?
            .filter(|r| r.source == RegistrationSource::Dynamic);
        let presented = token_hash(bearer);
        let matches = reg
            .as_ref()
            .and_then(|r| r.access_token_hash.as_deref())
            .is_some_and(|h| crypto::constant_time_eq(h.as_bytes(), presented.as_bytes()));
        let (true, Some(reg)) = (matches, reg) else {
            return Err(invalid_token());
        };
        let client = store
            .get_oauth_client(client_id)
            .await
            .map_err(store_err)?
            .filter(|c| !c.is_disabled())
            .ok_or_else(invalid_token)?;
        Ok((client, reg))
    }

    /// RFC 7592 §2.1: the registration as it stands (no secret: only its hash is kept).
    pub async fn read_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let (client, reg) = self.managed(client_id, bearer).await?;
        Ok(self.information(&client, &reg, None, None))
    }

    /// RFC 7592 §2.2: replaces the metadata (the same rules as registering). The kind
    /// (public or confidential) cannot change; switching to a secret method issues a secret.
    /// The registration access token is rotated: the answer carries the new one.
    pub async fn update_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        body: &[u8],
        ctx: &AuditContext,
    ) -> Result<Value, OAuthError> {
        let (before, reg) = self.managed(client_id, bearer).await?;
        let now = Utc::now();
        let result = self.update_checked(&before, reg, body, now).await;
        let (outcome, detail) = match &result {
            Ok(_) => (AuditOutcome::Success, json!({ "name": before.name })),
            Err(e) => (
                AuditOutcome::Failure,
                json!({ "error": e.code, "reason": e.description }),
            ),
        };
        self.engine
            .audit()
            .log(
                ctx,
                now,
                None,
                AuditAction::ClientRegistrationUpdate,
                Some(client_id.to_owned()),
                outcome,
                detail,
            )
            .await;
        result
    }

    async fn update_checked(
        &self,
        before: &OAuthClient,
        reg: ClientRegistration,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Value, OAuthError> {
        let body = parse_object(body)?;
        if body.get("client_id").and_then(Value::as_str) != Some(before.client_id.as_str()) {
            return Err(OAuthError::invalid_request(
                "client_id must be in the body and name this client (RFC 7592 §2.2)",
            ));
        }
        for fixed in [
            "registration_access_token",
            "registration_client_uri",
            "client_secret_expires_at",
            "client_id_issued_at",
        ] {
            if body.contains_key(fixed) {
                return Err(OAuthError::invalid_request(format!(
                    "{fixed} must not be sent in an update (RFC 7592 §2.2)"
                )));
            }
        }
        if let Some(s) = body.get("client_secret") {
            let same = s
                .as_str()
                .is_some_and(|s| verify_client_secret(before, s, now));
            if !same {
                return Err(OAuthError::invalid_client_metadata(
                    "client_secret does not match the client's secret",
                ));
            }
        }
        let accepted = metadata::accept(
            &body,
            &self.registration_config().scopes,
            Source::Registration,
        )?;
        let metadata = accepted.metadata.clone();
        let mut after = accepted.client(&self.engine.config().oidc, now)?;
        if after.kind != before.kind {
            return Err(OAuthError::invalid_client_metadata(
                "token_endpoint_auth_method cannot change between none (a public client) and \
                 a confidential method; register a new client",
            ));
        }
        after.client_id = before.client_id.clone();
        after.created_at = before.created_at;
        let secret = (uses_secret(after.token_endpoint_auth)
            && !uses_secret(before.token_endpoint_auth))
        .then(|| generate_client_secret(now));
        let access_token = crypto::random_token(TOKEN_BYTES);
        let reg = ClientRegistration {
            metadata: Value::Object(metadata),
            access_token_hash: Some(token_hash(&access_token)),
            updated_at: now,
            ..reg
        };
        let client = self
            .engine
            .store()
            .update_registered_client(
                after,
                reg.clone(),
                secret.as_ref().map(|s| s.stored.clone()),
            )
            .await
            .map_err(store_err)?;
        self.clients_changed();
        Ok(self.information(
            &client,
            &reg,
            Some(&access_token),
            secret.as_ref().map(|s| s.secret.as_str()),
        ))
    }

    /// RFC 7592 §2.3: the client is disabled, its registration access token forgotten and
    /// every grant session it holds ended (its tokens stop on every node). Its id stays taken.
    pub async fn delete_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let (client, _) = self.managed(client_id, bearer).await?;
        let now = Utc::now();
        let ended = self
            .engine
            .store()
            .retire_registered_client(client_id, now)
            .await
            .map_err(store_err)?;
        self.clients_changed();
        self.engine
            .audit()
            .log(
                ctx,
                now,
                None,
                AuditAction::ClientRegistrationDelete,
                Some(client_id.to_owned()),
                AuditOutcome::Success,
                json!({ "name": client.name, "sessions_ended": ended }),
            )
            .await;
        Ok(())
    }

    /// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
    fn information(
        &self,
        client: &OAuthClient,
        reg: &ClientRegistration,
        new_access_token: Option<&str>,
        new_secret: Option<&str>,
    ) -> Value {
        let mut out = match &reg.metadata {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        out.insert("client_id".into(), json!(client.client_id));
        out.insert(
            "client_id_issued_at".into(),
            json!(client.created_at.timestamp()),
        );
        if let Some(s) = new_secret {
            out.insert("client_secret".into(), json!(s));
        }
        if uses_secret(client.token_endpoint_auth) {
            out.insert("client_secret_expires_at".into(), json!(0));
        }
        if let Some(t) = new_access_token {
            out.insert("registration_access_token".into(), json!(t));
        }
        out.insert(
            "registration_client_uri".into(),
            json!(self.registration_client_uri(&client.client_id)),
        );
        Value::Object(out)
    }
}

/// A registration about to be stored, and what its client is told.
struct Registered {
    client: OAuthClient,
    registration: ClientRegistration,
    response: Value,
}

fn mode_name(mode: RegistrationMode) -> &'static str {
    match mode {
        RegistrationMode::Off => "off",
        RegistrationMode::Open => "open",
        RegistrationMode::InitialToken => "initial_token",
    }
}

fn store_err(e: StoreError) -> OAuthError {
    OAuthError::from(crate::error::CoreError::from(e))
}

#[cfg(test)]
mod tests;
