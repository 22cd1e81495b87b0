//! The device authorization grant, the person's side (RFC 8628 §3.3, §5.1, §5.4): the user code
//! typed at `/device` (wrong guesses counted per client network and server-wide, across nodes),
//! a sealed ticket that carries the found request through the sign-in, and the signed-in
//! person's approval or denial, which the polling client then sees.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::OAuthError;
use super::provider::{BrowserSignIn, OrgDecision, Provider};
use super::user_code::{self, UserCodeKey};
use crate::audit::{AuditAction, AuditContext};
use crate::engine::ip_limit_key;
use crate::error::CoreError;
use crate::model::*;

/// The window user-code attempts are counted in (a code's whole life).
pub const GUESS_WINDOW_SECS: i64 = 600;
/// Wrong user codes one client network (an IPv4 address or an IPv6 /64) may type per window.
pub const GUESSES_PER_NETWORK: i64 = 10;
/// Wrong user codes the whole server accepts per window, whoever types them: with at most this
/// many guesses in a code's life, any one live code is guessed with probability at most
/// 1000 / 20^8 ≈ 4·10^-8, however many networks the guesser has.
pub const GUESSES_SERVER_WIDE: i64 = 1000;

const TICKET_CONTEXT: &[u8] = b"oidc device ticket";

/// Why a typed user code was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCodeError {
    /// Not 8 letters of the alphabet (not counted as a guess).
    Malformed,
    /// No pending request has this code: unknown, expired, used or already decided.
    NotFound,
    /// Too many wrong codes from this network or in all.
    RateLimited {
        retry_after: std::time::Duration,
    },
    Failed(OAuthError),
}

impl From<CoreError> for UserCodeError {
    fn from(e: CoreError) -> Self {
        UserCodeError::Failed(e.into())
    }
}

/// Why the confirmation page or its answer cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecisionError {
    /// The ticket expired or was forged, or the request was decided, used or expired.
    Gone,
    /// The user belongs to several orgs and chose none (or one not offered).
    ChooseOrg,
    /// The user may not use this application (no active org, disabled org, not a member of
    /// the client's org), or the server failed.
    Refused(OAuthError),
}

impl From<CoreError> for DeviceDecisionError {
    fn from(e: CoreError) -> Self {
        DeviceDecisionError::Refused(e.into())
    }
}

/// What the confirmation page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfirmation {
    /// `XXXX-XXXX`: the person checks it against the device.
    pub user_code: String,
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    /// The orgs to choose from; empty when the org is settled (one, or the client's).
    pub orgs: Vec<Org>,
    /// Who is signed in (a shared browser may be someone else's).
    pub signed_in_as: Option<String>,
}

/// The found request, sealed into the confirmation page's URL (it survives the sign-in's
/// round trip, on any node, without server-side state).
#[derive(Serialize, Deserialize)]
struct Ticket {
    /// The normalised user code (shown again for the person to compare).
    code: String,
    exp: i64,
}

impl Provider {
    /// The code typed at `/device`: a ticket for the confirmation page when a pending request
    /// has it. Each lookup is counted against the client's network and the whole server
    /// before it runs (one atomic increment each, so parallel guesses are all counted); a
    /// right code is taken back off both counts, so only wrong guesses use the budget.
    pub async fn enter_user_code(
        &self,
        typed: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<String, UserCodeError> {
        let code = user_code::normalise(typed).ok_or(UserCodeError::Malformed)?;
        let network = match ip {
            Some(ip) => format!("ip:{}", ip_limit_key(ip)),
            None => "ip:unknown".to_owned(),
        };
        let keys = [
            (network.as_str(), GUESSES_PER_NETWORK),
            ("all", GUESSES_SERVER_WIDE),
        ];
        let store = self.engine.store();
        let now = Utc::now();
        let window_ends = now + Duration::seconds(GUESS_WINDOW_SECS);
        let mut counted = Vec::new();
        for (key, limit) in keys {
            let (attempts, ends) = store
                .count_device_guess(key, now, window_ends)
                .await
                .map_err(CoreError::from)?;
            counted.push(key);
            if attempts > limit {
                let retry_after = (ends - now).to_std().unwrap_or_default();
                return Err(UserCodeError::RateLimited {
                    retry_after: retry_after.max(std::time::Duration::from_secs(1)),
                });
            }
        }
        let key = UserCodeKey::of(&self.engine);
        let found = store
            .get_device_code_by_user_code(&key.hash(&code))
            .await
            .map_err(CoreError::from)?
            .filter(|c| c.is_pending(now));
        let Some(found) = found else {
            return Err(UserCodeError::NotFound);
        };
        for key in counted {
            store
                .refund_device_guess(key)
                .await
                .map_err(CoreError::from)?;
        }
        Ok(self.seal_ticket(&Ticket {
            code,
            exp: found.expires_at.timestamp(),
        }))
    }

    /// The confirmation page's contents for a signed-in person.
    pub async fn device_confirmation(
        &self,
        ticket: &str,
        browser: &BrowserSignIn,
    ) -> Result<DeviceConfirmation, DeviceDecisionError> {
        let (ticket, code, client) = self.pending_device_request(ticket).await?;
        let orgs = match self
            .org_for(&client, None, browser.principal.user)
            .await
            .map_err(DeviceDecisionError::Refused)?
        {
            OrgDecision::Use(_) => Vec::new(),
            OrgDecision::Ask(orgs) => orgs,
        };
        let signed_in_as = self
            .engine
            .active_user(browser.principal.user)
            .await
            .ok()
            .map(|u| u.email);
        Ok(DeviceConfirmation {
            signed_in_as,
            user_code: user_code::display(&ticket.code),
            client_id: client.client_id,
            client_name: client.name,
            scopes: code.scopes,
            orgs,
        })
    }

    /// The person's answer. An approval records who, in which org, with which sign-in
    /// (`amr`, `acr`, `auth_time`, the browser session), and, for a third-party client, the
    /// consent (listed and revocable under Connected apps; the page is still shown every
    /// time). Decided once: a second answer finds the request gone.
    pub async fn decide_device(
        &self,
        ticket: &str,
        approved: bool,
        org: Option<OrgId>,
        browser: &BrowserSignIn,
        ctx: &AuditContext,
    ) -> Result<(), DeviceDecisionError> {
        let (ticket, code, client) = self.pending_device_request(ticket).await?;
        let user = browser.principal.user;
        let now = Utc::now();
        let hash = UserCodeKey::of(&self.engine).hash(&ticket.code);
        let store = self.engine.store();
        if !approved {
            if !store
                .decide_device_code(&hash, DeviceDecision::Denied, now)
                .await
                .map_err(CoreError::from)?
            {
                return Err(DeviceDecisionError::Gone);
            }
            let event = (AuditAction::OidcDeviceDecision, Some(user));
            self.audit_device(ctx, event, &client, AuditOutcome::Denied, json!({}))
                .await;
            return Ok(());
        }
        let org = match self
            .org_for(&client, org, user)
            .await
            .map_err(DeviceDecisionError::Refused)?
        {
            OrgDecision::Use(org) => org,
            OrgDecision::Ask(_) => return Err(DeviceDecisionError::ChooseOrg),
        };
        if !client.first_party {
            let consent = Consent {
                user_id: user,
                client_id: client.client_id.clone(),
                scopes: code.scopes.iter().cloned().collect(),
                granted_at: now,
            };
            super::consents::remember(&self.engine, consent, ctx).await?;
        }
        let approval = DeviceApproval {
            user_id: user,
            org_id: org,
            browser_session: browser.session.id.clone(),
            auth_time: browser.session.created_at,
            amr: browser.session.amr.clone(),
            acr: super::acr_for(&[], &browser.session.amr),
        };
        if !store
            .decide_device_code(&hash, DeviceDecision::Approved(approval), now)
            .await
            .map_err(CoreError::from)?
        {
            return Err(DeviceDecisionError::Gone);
        }
        let event = (AuditAction::OidcDeviceDecision, Some(user));
        let detail =
            json!({ "org": org.0, "scopes": code.scopes, "session": browser.session.id.0 });
        self.audit_device(ctx, event, &client, AuditOutcome::Success, detail)
            .await;
        Ok(())
    }

    /// The ticket's request while it is still pending, with its (enabled) client.
    async fn pending_device_request(
        &self,
        ticket: &str,
    ) -> Result<(Ticket, DeviceCode, OAuthClient), DeviceDecisionError> {
        let now = Utc::now();
        let ticket = self.open_ticket(ticket).ok_or(DeviceDecisionError::Gone)?;
        let hash = UserCodeKey::of(&self.engine).hash(&ticket.code);
        let code = self
            .engine
            .store()
            .get_device_code_by_user_code(&hash)
            .await
            .map_err(CoreError::from)?
            .filter(|c| c.is_pending(now))
            .ok_or(DeviceDecisionError::Gone)?;
        let client = self
            .client(&code.client_id)
            .await?
            .ok_or(DeviceDecisionError::Gone)?;
        Ok((ticket, code, client))
    }

    /// How a user code is stored (its keyed hash), `None` for one that is not well formed.
    /// For tests that plant a request (an expired one) in the store.
    #[doc(hidden)]
    pub fn stored_user_code_hash(&self, typed: &str) -> Option<String> {
        user_code::normalise(typed).map(|c| UserCodeKey::of(&self.engine).hash(&c))
    }

    fn seal_ticket(&self, ticket: &Ticket) -> String {
        // Serialising plain data cannot fail.
        let json = serde_json::to_vec(ticket).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(self.engine.oidc_seal().seal(TICKET_CONTEXT, &json))
    }

    /// `None` for a forged, altered or expired ticket.
    fn open_ticket(&self, sealed: &str) -> Option<Ticket> {
        if sealed.len() > 1024 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let json = self.engine.oidc_seal().open(TICKET_CONTEXT, &raw).ok()?;
        let ticket: Ticket = serde_json::from_slice(&json).ok()?;
        (ticket.exp > Utc::now().timestamp()).then_some(ticket)
    }
}
