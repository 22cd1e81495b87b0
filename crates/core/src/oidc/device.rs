//! The device authorization grant, the client's side (RFC 8628 §3.1–§3.5): the device
//! authorization request, and the token endpoint's `device_code` grant with its
//! `authorization_pending`, `slow_down`, `access_denied` and `expired_token` answers. The
//! person's side (the `/device` page) is `device_verification.rs`.
//!
//! Every rule that must hold across nodes is a conditional write in the store: the poll is
//! compare-and-set (so two nodes cannot both let a too-fast poll through), the decision is
//! taken once, and the redemption consumes the code once.

use chrono::{Duration, Utc};
use serde_json::json;

use super::error::OAuthError;
use super::grants::{Redeemed, Replay, TokenSet, token_hash};
use super::provider::Provider;
use super::user_code::{self, UserCodeKey};
use crate::audit::{AuditAction, AuditContext};
use crate::crypto;
use crate::error::CoreError;
use crate::model::*;
use crate::store::StoreError;

/// Device codes and user codes live ten minutes (RFC 8628 §3.2 leaves it to the server).
pub const DEVICE_CODE_TTL_SECS: i64 = 600;
/// The polling interval a client starts with (RFC 8628 §3.2's default).
pub const DEVICE_POLL_INTERVAL_SECS: i64 = 5;
/// What every `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_SECS: i64 = 5;
/// The verification page, below the issuer.
pub const DEVICE_VERIFICATION_PATH: &str = "/device";
/// The grant's name at the token endpoint.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// As shown to people: `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    /// The page with the code filled in; the person still confirms it.
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl Provider {
    /// `POST /device_authorization`: a device code for a client allowed the grant, with the
    /// scopes checked as at the authorization endpoint (`openid` required).
    pub async fn device_authorization(
        &self,
        client: &OAuthClient,
        scope: Option<&str>,
        ctx: &AuditContext,
    ) -> Result<DeviceAuthorization, OAuthError> {
        let refused = match client.grant_types.contains(&GrantType::DeviceCode) {
            false => Err(OAuthError::unauthorized_client(
                "this client may not use the device authorization grant",
            )),
            true => super::request::parse_scopes(scope.unwrap_or_default().trim(), client),
        };
        let scopes = match refused {
            Ok(scopes) => scopes,
            Err(e) => {
                let event = (AuditAction::OidcDeviceAuthorization, None);
                let detail = json!({ "reason": e.description });
                self.audit_device(ctx, event, client, AuditOutcome::Denied, detail)
                    .await;
                return Err(e);
            }
        };
        let key = UserCodeKey::of(&self.engine);
        let device_code = crypto::random_token(32);
        let now = Utc::now();
        // A user code drawn twice among the live ones (about 1 in 2.6·10^10 per live code) is
        // drawn again.
        for _ in 0..4 {
            let user_code = user_code::generate();
            let record = DeviceCode {
                device_code_hash: token_hash(&device_code),
                user_code_hash: key.hash(&user_code),
                client_id: client.client_id.clone(),
                scopes: scopes.clone(),
                created_at: now,
                expires_at: now + Duration::seconds(DEVICE_CODE_TTL_SECS),
                interval_secs: DEVICE_POLL_INTERVAL_SECS,
                polls: 0,
                last_polled_at: None,
                decision: None,
                decided_at: None,
                consumed_at: None,
                grant_session: None,
            };
            match self.engine.store().insert_device_code(record).await {
                Ok(()) => {}
                Err(StoreError::Conflict(m)) if m == "device user code already in use" => continue,
                Err(e) => return Err(CoreError::from(e).into()),
            }
            let event = (AuditAction::OidcDeviceAuthorization, None);
            let detail = json!({ "scopes": scopes });
            self.audit_device(ctx, event, client, AuditOutcome::Success, detail)
                .await;
            let verification_uri = format!("{}{DEVICE_VERIFICATION_PATH}", self.issuer());
            let shown = user_code::display(&user_code);
            return Ok(DeviceAuthorization {
                device_code,
                verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
                verification_uri,
                user_code: shown,
                expires_in: DEVICE_CODE_TTL_SECS,
                interval: DEVICE_POLL_INTERVAL_SECS,
            });
        }
        Err(OAuthError::server_error("no free user code; try again"))
    }

    /// The token endpoint's `device_code` grant (RFC 8628 §3.4, §3.5).
    pub async fn redeem_device_code(
        &self,
        client: &OAuthClient,
        device_code: &str,
        ctx: &AuditContext,
    ) -> Result<TokenSet, OAuthError> {
        if !client.grant_types.contains(&GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the device authorization grant",
            ));
        }
        let hash = token_hash(device_code);
        let (code, too_fast) = self.record_poll(client, &hash, ctx).await?;
        match code.decision {
            None if too_fast => Err(OAuthError::slow_down(
                "polling too fast: wait the interval, which grew by 5 seconds",
            )),
            None => Err(OAuthError::authorization_pending(
                "the user has not answered yet",
            )),
            Some(DeviceDecision::Denied) => {
                Err(OAuthError::access_denied("the user denied the request"))
            }
            Some(DeviceDecision::Approved(_)) => self.issue_device_tokens(client, &hash, ctx).await,
        }
    }

    /// Reads the code, refuses what cannot be polled (unknown, another client's, used, expired),
    /// and records this poll; returns the code as read and whether the poll came before the
    /// interval had passed (then the interval grows). A poll that loses the compare-and-set
    /// to a simultaneous one reads again and is then too fast.
    async fn record_poll(
        &self,
        client: &OAuthClient,
        hash: &str,
        ctx: &AuditContext,
    ) -> Result<(DeviceCode, bool), OAuthError> {
        let store = self.engine.store();
        for _ in 0..3 {
            let now = Utc::now();
            let code = store
                .get_device_code(hash)
                .await
                .map_err(CoreError::from)?
                .ok_or_else(|| OAuthError::invalid_grant("unknown device code"))?;
            if code.client_id != client.client_id {
                return Err(OAuthError::invalid_grant(
                    "the device code was issued to another client",
                ));
            }
            if code.consumed_at.is_some() {
                self.end_replayed_device_code(&code, ctx).await?;
                return Err(OAuthError::invalid_grant(
                    "the device code was already used; what it granted is revoked",
                ));
            }
            if code.expires_at <= now {
                return Err(OAuthError::expired_token(
                    "the device code expired; start again",
                ));
            }
            let too_fast = code
                .last_polled_at
                .is_some_and(|last| now - last < Duration::seconds(code.interval_secs));
            let interval = code.interval_secs + if too_fast { SLOW_DOWN_STEP_SECS } else { 0 };
            if store
                .record_device_poll(hash, code.polls, now, interval)
                .await
                .map_err(CoreError::from)?
            {
                return Ok((code, too_fast));
            }
        }
        Err(OAuthError::slow_down(
            "polling too fast: wait the interval, which grew by 5 seconds",
        ))
    }

    /// The approved code's tokens, once: the redemption consumes it in the same unit that
    /// starts the grant session.
    async fn issue_device_tokens(
        &self,
        client: &OAuthClient,
        hash: &str,
        ctx: &AuditContext,
    ) -> Result<TokenSet, OAuthError> {
        let now = Utc::now();
        let mut tx = self
            .engine
            .store()
            .begin_write()
            .await
            .map_err(CoreError::from)?;
        let code = match tx
            .redeem_device_code(hash, now)
            .await
            .map_err(CoreError::from)?
        {
            DeviceRedemption::Redeemed(c) => c,
            DeviceRedemption::AlreadyUsed(c) => {
                drop(tx);
                self.end_replayed_device_code(&c, ctx).await?;
                return Err(OAuthError::invalid_grant(
                    "the device code was already used; what it granted is revoked",
                ));
            }
            DeviceRedemption::NotApproved => {
                return Err(OAuthError::invalid_grant("unknown device code"));
            }
        };
        let Some(DeviceDecision::Approved(a)) = &code.decision else {
            return Err(OAuthError::invalid_grant("unknown device code"));
        };
        let redeemed = Redeemed {
            grant: DEVICE_CODE_GRANT,
            user: a.user_id,
            org: a.org_id,
            browser_session: &a.browser_session,
            issued_at: code.decided_at.unwrap_or(code.created_at),
            scopes: &code.scopes,
            auth_time: a.auth_time,
            amr: &a.amr,
            acr: &a.acr,
            nonce: None,
        };
        let refusal = if code.expires_at <= now {
            Err("the device code expired")
        } else {
            self.sign_in_behind(&mut *tx, &redeemed, now).await?
        };
        let browser = match refusal {
            Ok(b) => b,
            Err(reason) => {
                // The code is used up either way.
                tx.commit().await.map_err(CoreError::from)?;
                self.audit_grant(ctx, &a.user_id, client, AuditAction::OidcToken, reason)
                    .await;
                return Err(OAuthError::invalid_grant(reason));
            }
        };
        let (grant, refresh) = self
            .open_grant(&mut *tx, client, &redeemed, &browser, ctx, now)
            .await?;
        tx.set_device_grant_session(hash, &grant.id)
            .await
            .map_err(CoreError::from)?;
        tx.commit().await.map_err(CoreError::from)?;
        self.grant_tokens(client, &redeemed, &grant, refresh, now)
            .await
    }

    /// A redeemed device code presented again: as for authorization codes, the grant it
    /// started ends (RFC 6749 §4.1.2's rule, applied to the other one-time code).
    async fn end_replayed_device_code(
        &self,
        code: &DeviceCode,
        ctx: &AuditContext,
    ) -> Result<(), OAuthError> {
        let Some(DeviceDecision::Approved(a)) = &code.decision else {
            return Ok(());
        };
        let tx = self
            .engine
            .store()
            .begin_write()
            .await
            .map_err(CoreError::from)?;
        let replay = Replay {
            grant: DEVICE_CODE_GRANT,
            user: a.user_id,
            client_id: &code.client_id,
            grant_session: code.grant_session.as_ref(),
        };
        self.end_replayed_code(tx, &replay, ctx).await
    }

    /// A device flow event about `client` (the request, or a person's decision).
    pub(super) async fn audit_device(
        &self,
        ctx: &AuditContext,
        event: (AuditAction, Option<UserId>),
        client: &OAuthClient,
        outcome: AuditOutcome,
        detail: serde_json::Value,
    ) {
        let (action, user) = event;
        self.engine
            .audit()
            .log(
                ctx,
                Utc::now(),
                user,
                action,
                Some(client.client_id.clone()),
                outcome,
                detail,
            )
            .await;
    }
}
