//! The endpoints: wire types in, engine calls, wire types or problems out.

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use portcullis_core::CoreError;
use portcullis_core::consents::ConsentView;
use portcullis_core::engine::{CurrentSession, Engine, OwnSession};
use portcullis_core::model::{SessionId, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use portcullis_edge::Origin;

use portcullis_edge::{Caller, JsonBody, Problem};

type Result<T, E = Problem> = std::result::Result<T, E>;

/// A password on the wire; never printed.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    id: String,
    kind: &'static str,
    created_at: Timestamp,
    expires_at: Timestamp,
    /// RFC 8176 method references, e.g. `pwd`, `fed`, `proxy`.
    auth_methods: Vec<String>,
    org_id: uuid::Uuid,
    /// The super-admin acting as the user, on impersonation sessions.
    actor_id: Option<uuid::Uuid>,
    /// The client address that signed in.
    ip: Option<String>,
    current: bool,
    /// The last use known (written at most once a minute; this server's own view is newer).
    last_seen: Timestamp,
    /// When the session ends if unused until then; `null` without an idle timeout.
    idle_expires_at: Option<Timestamp>,
    /// The OpenID client this session's tokens were issued to; `null` for a sign-in.
    client_id: Option<String>,
    /// The browser sign-in an application's session came from (it ends with it unless offline).
    parent_session_id: Option<String>,
    /// An application's offline access, which outlives the browser sign-in.
    offline: bool,
}

impl From<OwnSession> for SessionView {
    fn from(o: OwnSession) -> Self {
        let s = o.session;
        SessionView {
            id: s.id.0,
            kind: s.kind.as_str(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            auth_methods: s.amr,
            org_id: s.org_id.0,
            actor_id: s.actor_id.map(|a| a.0),
            ip: s.ip,
            current: o.current,
            last_seen: o.last_seen,
            idle_expires_at: o.idle_expires_at,
            client_id: s.grant.as_ref().map(|g| g.client_id.clone()),
            parent_session_id: s
                .grant
                .as_ref()
                .and_then(|g| g.parent.as_ref().map(|p| p.0.clone())),
            offline: s.grant.as_ref().is_some_and(|g| g.offline),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionList {
    sessions: Vec<SessionView>,
}

/// `GET /account/v1/sessions`
pub async fn list_sessions(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
) -> Result<Json<SessionList>> {
    let sessions = engine.list_my_sessions(&p).await?;
    Ok(Json(SessionList {
        sessions: sessions.into_iter().map(SessionView::from).collect(),
    }))
}

/// The answer of `GET /account/v1/sessions/current`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentView {
    /// Always `true`: any other bearer is answered 401.
    active: bool,
    /// The session; `null` for an API key or persistent token, or a token minted from one.
    id: Option<String>,
    /// `login`, `proxy`, or `credential`.
    kind: &'static str,
    user_id: uuid::Uuid,
    /// The org the bearer acts in (its `org` claim).
    org_id: uuid::Uuid,
    /// The super-admin acting as the user, on impersonation sessions.
    actor_id: Option<uuid::Uuid>,
    credential_id: Option<uuid::Uuid>,
    /// When the bearer ends at the latest (its own expiry or its session's); `null` for a
    /// credential that never expires.
    expires_at: Option<Timestamp>,
    /// When the session ends if unused until then; `null` without an idle timeout.
    idle_expires_at: Option<Timestamp>,
}

/// `GET /account/v1/sessions/current`: a resource server's online check of a bearer. 200 only
/// while the bearer is valid and nothing revoked it; otherwise the extractor's 401.
pub async fn current_session(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
) -> Result<Json<CurrentView>> {
    let CurrentSession {
        session,
        expires_at,
        idle_expires_at,
    } = engine.current_session(&p).await?;
    Ok(Json(CurrentView {
        active: true,
        id: session.as_ref().map(|s| s.id.0.clone()),
        kind: session.as_ref().map_or("credential", |s| s.kind.as_str()),
        user_id: p.user.0,
        org_id: p.org.0,
        actor_id: p.actor.map(|a| a.0),
        credential_id: p.credential().map(|c| c.0),
        expires_at,
        idle_expires_at,
    }))
}

/// Longer than any id the engine makes; refused without a look-up.
const MAX_SESSION_ID: usize = 128;

/// `DELETE /account/v1/sessions/{id}`
pub async fn end_session(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if id.len() > MAX_SESSION_ID {
        return Err(CoreError::NotFound("session").into());
    }
    engine
        .end_my_session(&p, &SessionId(id), &origin.audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Ended {
    ended: u64,
}

/// `POST /account/v1/sessions/end-others`
pub async fn end_other_sessions(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
) -> Result<Json<Ended>> {
    let ended = engine.end_my_other_sessions(&p, &origin.audit).await?;
    Ok(Json(Ended { ended }))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsentList {
    consents: Vec<Consent>,
}

/// One consent the caller gave an OpenID client.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    client_id: String,
    client_name: String,
    scopes: std::collections::BTreeSet<String>,
    granted_at: Timestamp,
}

impl From<ConsentView> for Consent {
    fn from(c: ConsentView) -> Self {
        Consent {
            client_id: c.client_id,
            client_name: c.client_name,
            scopes: c.scopes,
            granted_at: c.granted_at,
        }
    }
}

/// `GET /account/v1/consents`: the clients the caller let act for them, with the scopes.
pub async fn list_consents(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
) -> Result<Json<ConsentList>> {
    let consents = engine.list_my_consents(&p).await?;
    Ok(Json(ConsentList {
        consents: consents.into_iter().map(Consent::from).collect(),
    }))
}

/// Longer than any client id; refused without a look-up.
const MAX_CLIENT_ID: usize = 64;

/// `DELETE /account/v1/consents/{clientId}`: the client must ask again, and what it holds for
/// the caller ends.
pub async fn revoke_consent(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    Path(client): Path<String>,
) -> Result<StatusCode> {
    if client.len() > MAX_CLIENT_ID {
        return Err(CoreError::NotFound("consent").into());
    }
    engine.revoke_my_consent(&p, &client, &origin.audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePassword {
    current_password: Secret,
    new_password: Secret,
    /// Other sessions end unless the caller asks to keep them.
    #[serde(default = "yes")]
    end_other_sessions: bool,
    /// Also revoke every API key and persistent token of the user.
    #[serde(default)]
    revoke_credentials: bool,
}

fn yes() -> bool {
    true
}

/// `POST /account/v1/password`
pub async fn change_password(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<ChangePassword>,
) -> Result<Response> {
    engine.check_ip_rate(origin.ip)?;
    engine
        .change_password(
            &p,
            &body.current_password.0,
            &body.new_password.0,
            body.end_other_sessions,
            body.revoke_credentials,
            &origin.audit,
        )
        .await
        .map_err(|e| match e {
            // The caller is signed in; only the current password can be wrong.
            CoreError::InvalidCredentials => {
                Problem::from(e).with_detail("the current password is not correct")
            }
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequiredChange {
    email: String,
    /// The one-time code from `admin user force-password-reset`.
    reset_code: Secret,
    new_password: Secret,
}

/// `POST /account/v1/password/reset-required`: no token; the admin-issued one-time code proves
/// it (the old password is neither needed nor enough).
pub async fn change_required_password(
    State(engine): State<Arc<Engine>>,
    origin: Origin,
    JsonBody(body): JsonBody<RequiredChange>,
) -> Result<StatusCode> {
    engine.check_ip_rate(origin.ip)?;
    engine
        .reset_password_with_code(
            &body.email,
            &body.reset_code.0,
            &body.new_password.0,
            &origin.audit,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
