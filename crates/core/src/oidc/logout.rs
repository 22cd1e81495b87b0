//! Logout (OIDC RP-Initiated Logout 1.0 and Back-Channel Logout 1.0). RP-initiated logout
//! ends the browser sign-in, which ends every non-offline grant of it; the store queues a
//! logout notice for each ended grant whose client listens, on every way a session ends. The
//! delivery loop here signs a logout token per notice and posts it, with retries, leased so
//! that two nodes do not post the same notice at once.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::provider::{BrowserSignIn, Provider};
use crate::audit::{AuditAction, AuditContext};
use crate::crypto;
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::store::NoticeOutcome;

/// The event a logout token carries (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is good for two minutes.
const LOGOUT_TOKEN_SECS: i64 = 120;
/// Attempts before a notice is given up: after 10 s, 30 s, 90 s, 270 s, 810 s.
const MAX_ATTEMPTS: i32 = 6;
const LEASE_SECS: i64 = 60;
const BATCH: u32 = 50;
/// How often expired codes and refresh tokens are deleted.
pub const PURGE_EVERY: StdDuration = StdDuration::from_secs(600);

/// The parameters of an end-session request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndSessionParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

/// What the end-session endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessionStep {
    /// Ended (or nothing to end); redirect to the client, or show the signed-out page.
    Done { redirect: Option<String> },
    /// No trustworthy hint: ask the user before signing out (a cross-site GET must not).
    Confirm { client_name: Option<String> },
}

/// Posts a logout token to a client's back-channel URI (the surface holds the HTTP client).
#[async_trait]
pub trait LogoutSender: Send + Sync {
    async fn post_logout_token(&self, uri: &str, logout_token: &str) -> Result<(), String>;
}

impl Provider {
    /// `end_session_endpoint`. `confirmed` is true when the user pressed "Sign out" on the
    /// confirmation page (a same-origin form with its CSRF check done by the caller).
    pub async fn end_session(
        &self,
        params: &EndSessionParams,
        browser: Option<&BrowserSignIn>,
        confirmed: bool,
        ctx: &AuditContext,
    ) -> Result<EndSessionStep, String> {
        let hint = match params.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => Some(self.read_id_token_hint(h).await?),
            None => None,
        };
        let hint_client = hint.as_ref().map(|(aud, _, _)| aud.clone());
        let client_id = match (
            hint_client,
            params.client_id.as_deref().filter(|c| !c.is_empty()),
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err("The sign-out request names two different applications.".into());
            }
            (Some(a), _) => Some(a),
            (None, b) => b.map(str::to_string),
        };
        let client = match &client_id {
            Some(id) => Some(
                self.client(id)
                    .await
                    .map_err(|_| "The server could not look up the application.".to_string())?
                    .ok_or("The sign-out request names an unknown application.")?,
            ),
            None => None,
        };
        let redirect = match params
            .post_logout_redirect_uri
            .as_deref()
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(uri) => {
                let registered = client
                    .as_ref()
                    .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
                if !registered {
                    return Err(
                        "The application asked to return to an address it has not registered."
                            .into(),
                    );
                }
                Some(self.logout_redirect(uri, params.state.as_deref()))
            }
        };
        // Without a hint the request could come from any site: the user confirms first.
        if hint.is_none() && !confirmed && browser.is_some() {
            return Ok(EndSessionStep::Confirm {
                client_name: client.map(|c| c.name),
            });
        }
        let target = match (&hint, browser) {
            (Some((_, user, sid)), _) => Some((*user, sid.clone())),
            (None, Some(b)) => Some((b.principal.user, b.session.id.clone())),
            (None, None) => None,
        };
        if let Some((user, sid)) = target {
            self.end_browser_session(user, &sid, client_id.as_deref(), ctx)
                .await
                .map_err(|_| "The server could not sign you out; try again.".to_string())?;
        }
        Ok(EndSessionStep::Done { redirect })
    }

    /// An ID token this provider issued (expired ones too, as the spec allows): its client,
    /// user and browser session.
    async fn read_id_token_hint(&self, token: &str) -> Result<(String, UserId, SessionId), String> {
        let bad =
            || "The sign-out request carries an ID token this server did not issue.".to_string();
        let claims: Value = self
            .engine
            .verify_own_jwt(token, "JWT", Utc::now(), false)
            .await
            .map_err(|_| bad())?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer()) {
            return Err(bad());
        }
        let aud = match claims.get("aud") {
            Some(Value::String(a)) => a.clone(),
            Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().ok_or_else(bad)?.to_string(),
            _ => return Err(bad()),
        };
        let user = claims
            .get("sub")
            .and_then(Value::as_str)
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map(UserId)
            .ok_or_else(bad)?;
        let sid = claims
            .get("sid")
            .and_then(Value::as_str)
            .map(|s| SessionId(s.to_string()))
            .ok_or_else(bad)?;
        Ok((aud, user, sid))
    }

    fn logout_redirect(&self, uri: &str, state: Option<&str>) -> String {
        let mut out = uri.to_string();
        if let Some(state) = state.filter(|s| !s.is_empty() && s.len() <= 1024) {
            out.push(if uri.contains('?') { '&' } else { '?' });
            out.push_str("state=");
            out.push_str(&super::url_component(state));
        }
        out
    }

    /// Ends a browser sign-in of `user` (and, through the store, its grants and their notices).
    async fn end_browser_session(
        &self,
        user: UserId,
        sid: &SessionId,
        client_id: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let store = self.engine.store();
        let Some(session) = store.get_session(sid).await?.filter(|s| s.user_id == user) else {
            return Ok(());
        };
        let now = Utc::now();
        if store.revoke_session(&session.id, now).await? {
            self.refresh_view(user).await;
            self.engine
                .audit()
                .log(
                    ctx,
                    now,
                    Some(user),
                    AuditAction::Logout,
                    Some(session.id.0.clone()),
                    AuditOutcome::Success,
                    json!({ "via": "oidc", "client": client_id }),
                )
                .await;
        }
        Ok(())
    }

    /// One delivery pass: claims due notices and posts each one's logout token.
    pub async fn deliver_logout_notices(&self, sender: &dyn LogoutSender) -> CoreResult<usize> {
        let store = self.engine.store();
        let now = Utc::now();
        let notices = store.claim_logout_notices(now, LEASE_SECS, BATCH).await?;
        let n = notices.len();
        for notice in notices {
            let outcome = match self.logout_token(&notice).await {
                Ok(token) => match sender.post_logout_token(&notice.uri, &token).await {
                    Ok(()) => NoticeOutcome::Delivered,
                    Err(e) => failed(&notice, e),
                },
                Err(e) => failed(&notice, e.to_string()),
            };
            let (result, detail) = match &outcome {
                NoticeOutcome::Delivered => (AuditOutcome::Success, json!({})),
                NoticeOutcome::Failed { error, retry_at } => (
                    AuditOutcome::Failure,
                    json!({ "error": error, "will_retry": retry_at.is_some() }),
                ),
            };
            store
                .finish_logout_notice(notice.id, outcome, Utc::now())
                .await?;
            self.engine
                .audit()
                .log(
                    &AuditContext::default(),
                    Utc::now(),
                    Some(notice.user_id),
                    AuditAction::OidcBackchannelLogout,
                    Some(notice.client_id.clone()),
                    result,
                    merge(
                        json!({ "sid": notice.sid.0, "attempt": notice.attempts + 1 }),
                        detail,
                    ),
                )
                .await;
        }
        Ok(n)
    }

    /// The provider's background work until the task is aborted: a delivery pass every
    /// `every`, and the purge of expired codes and refresh tokens every [`PURGE_EVERY`].
    pub fn spawn_background(
        self: &Arc<Self>,
        sender: Arc<dyn LogoutSender>,
        every: StdDuration,
    ) -> tokio::task::JoinHandle<()> {
        let provider = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_purge = std::time::Instant::now();
            loop {
                tick.tick().await;
                if let Err(e) = provider.deliver_logout_notices(sender.as_ref()).await {
                    tracing::warn!(error = %e, "back-channel logout delivery failed; will retry");
                }
                if last_purge.elapsed() >= PURGE_EVERY {
                    last_purge = std::time::Instant::now();
                    match provider.engine.store().purge_oauth_grants(Utc::now()).await {
                        Ok(n) => tracing::debug!(rows = n, "expired OpenID grants purged"),
                        Err(e) => {
                            tracing::warn!(error = %e, "purging expired OpenID grants failed")
                        }
                    }
                }
            }
        })
    }

    /// Back-Channel Logout §2.4: `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`, `events`,
    /// never a `nonce`; signed with the client's ID-token algorithm, `typ: logout+jwt`.
    async fn logout_token(&self, notice: &LogoutNotice) -> CoreResult<String> {
        let client = self
            .engine
            .store()
            .get_oauth_client(&notice.client_id)
            .await?
            .ok_or(CoreError::NotFound("client"))?;
        let now = Utc::now().timestamp();
        let claims = json!({
            "iss": self.issuer(),
            "aud": client.client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_SECS,
            "jti": crypto::random_token(16),
            "sub": notice.user_id.0,
            "sid": notice.sid.0,
            "events": { BACKCHANNEL_EVENT: {} },
        });
        self.engine
            .sign_jwt(client.id_token_alg, "logout+jwt", &claims)
            .await
            .map_err(CoreError::from)
    }
}

fn failed(notice: &LogoutNotice, error: String) -> NoticeOutcome {
    let attempt = notice.attempts + 1;
    let retry_at = (attempt < MAX_ATTEMPTS)
        .then(|| Utc::now() + Duration::seconds(10 * 3_i64.pow(attempt.clamp(0, 8) as u32 - 1)));
    NoticeOutcome::Failed {
        error: error.chars().take(300).collect(),
        retry_at,
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}
