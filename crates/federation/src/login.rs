//! Sessions and tokens minted from an upstream identity. Every federated path (Parsable
//! `loginWithIdp*` and `loginWithSSO`, browser SSO, Nominal getAccessToken and
//! refreshAccessToken) starts them here, so the upstream cap is applied in one place and none
//! outlives the upstream token by more than the provider's `max_session_beyond_upstream_secs`.

use chrono::Utc;
use portcullis_core::Timestamp;
use portcullis_core::audit::AuditContext;
use portcullis_core::engine::{IssuedToken, LoginGrant, OrgChoice};
use portcullis_core::model::User;

use crate::{Federation, FederationError, UpstreamIdentity};

/// The `amr` of sessions and tokens minted from an upstream identity.
pub const AMR_FEDERATED: &str = "fed";

/// Upper bound of `max_session_beyond_upstream_secs` (one year; also checked by `validate`).
const MAX_CAP_SECS: i64 = 366 * 24 * 3600;

impl Federation {
    /// Starts a session for `user` (Parsable `loginWithIdp*`, `loginWithSSO`, browser SSO;
    /// proxy logins included: the super-admin check is the engine's), ending no later than
    /// [`Federation::session_not_after`]. Engine failures come back as `Core`.
    pub async fn start_session(
        &self,
        id: &UpstreamIdentity,
        user: User,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<LoginGrant, FederationError> {
        let not_after = self.session_not_after(id)?;
        Ok(self
            .engine
            .finish_login_until(
                user,
                vec![AMR_FEDERATED.into()],
                choice,
                proxied_email,
                Some(not_after),
                ctx,
            )
            .await?)
    }

    /// Issues an access token for `user` (Nominal getAccessToken, refreshAccessToken), ending no
    /// later than [`Federation::token_not_after`]. Engine failures come back as `Core`.
    pub async fn issue_token(
        &self,
        id: &UpstreamIdentity,
        user: &User,
        choice: OrgChoice,
        ctx: &AuditContext,
    ) -> Result<IssuedToken, FederationError> {
        let not_after = self.token_not_after(id)?;
        Ok(self
            .engine
            .issue_access_token(
                user,
                choice,
                vec![AMR_FEDERATED.into()],
                Some(not_after),
                ctx,
            )
            .await?)
    }

    /// The latest end of a session started from this identity: the upstream token's `exp`
    /// (now, when unknown) plus the provider's `max_session_beyond_upstream_secs`. `Expired`
    /// when that is not in the future.
    pub fn session_not_after(&self, id: &UpstreamIdentity) -> Result<Timestamp, FederationError> {
        let cfg = &self.by_alias(&id.provider)?.cfg;
        let now = Utc::now();
        let cap = i64::try_from(cfg.max_session_beyond_upstream_secs).unwrap_or(i64::MAX);
        let end = id.expires_at.unwrap_or(now) + chrono::Duration::seconds(cap.min(MAX_CAP_SECS));
        if end <= now {
            return Err(FederationError::Expired);
        }
        Ok(end)
    }

    /// The latest expiry of a Nominal access token minted from this identity: the upstream
    /// token's `exp` (getAccessToken: the ID token's; refreshAccessToken: the access token's),
    /// or, when the upstream expiry is unknown (userinfo-checked opaque tokens),
    /// [`Federation::session_not_after`]. `Expired` when it has passed (within the leeway).
    pub fn token_not_after(&self, id: &UpstreamIdentity) -> Result<Timestamp, FederationError> {
        match id.expires_at {
            Some(exp) if exp <= Utc::now() => Err(FederationError::Expired),
            Some(exp) => Ok(exp),
            None => self.session_not_after(id),
        }
    }
}
