//! Using a passkey (docs/design/mfa.md "Passkeys"): as the second step of a stopped sign-in, as
//! a re-authentication, and passwordless (a discoverable credential names its user). Every
//! answer goes through the login throttle (`verify_second_factor`); the ceremony is taken
//! (single use) before the library checks the assertion; the sign counter only moves forward.

use chrono::Utc;
use serde_json::json;
use webauthn_rs::prelude::*;

use super::passkeys::PasskeyCeremony;
use super::sign_in::hash_hex;
use super::{ConfirmedPasskey, SignInStep, own_session};
use crate::audit::{AuditAction, AuditContext};
use crate::engine::passkey_check::{
    PasskeyAnswer, StoredPasskey, ceremony_hash, parse_answer, purpose,
};
use crate::engine::{Engine, FactorPurpose, LoginGrant, OrgChoice, SecondFactorProof};
use crate::error::{CoreError, CoreResult, MfaRefusal};
use crate::model::*;
use crate::tokens::Principal;

impl Engine {
    /// Options for `navigator.credentials.get` naming the user's usable passkeys.
    async fn start_assertion(&self, user: UserId, binding: String) -> CoreResult<PasskeyCeremony> {
        let state = self.mfa_state(user).await?;
        let mut passkeys = Vec::new();
        for f in state.usable().filter(|f| f.kind == FactorKind::Webauthn) {
            passkeys.push(StoredPasskey::parse(f)?.passkey);
        }
        if passkeys.is_empty() {
            return Err(CoreError::NotFound("passkey"));
        }
        let (options, ceremony) = self
            .relying_party()?
            .start_passkey_authentication(&passkeys)
            .map_err(|e| CoreError::Internal(format!("passkey authentication: {e}")))?;
        self.ceremony_options(
            Some(user),
            purpose::SECOND_FACTOR,
            Some(binding),
            &ceremony,
            &options,
        )
        .await
    }

    async fn ceremony_options<S: serde::Serialize, O: serde::Serialize>(
        &self,
        user: Option<UserId>,
        purpose: &str,
        binding: Option<String>,
        state: &S,
        options: &O,
    ) -> CoreResult<PasskeyCeremony> {
        let to_value = |v: serde_json::Result<serde_json::Value>| {
            v.map_err(|e| CoreError::Internal(e.to_string()))
        };
        let state = to_value(serde_json::to_value(state))?;
        let mut options = to_value(serde_json::to_value(options))?;
        let (ceremony, expires_at) = self.store_ceremony(user, purpose, binding, state).await?;
        let options = options
            .get_mut("publicKey")
            .map(serde_json::Value::take)
            .unwrap_or_default();
        Ok(PasskeyCeremony {
            ceremony,
            options,
            expires_at,
        })
    }

    /// Starts the passkey answer to a stopped sign-in's second step; finish with
    /// [`Engine::complete_second_factor`] and [`SecondFactorProof::Passkey`].
    pub async fn start_second_factor_passkey(&self, handle: &str) -> CoreResult<PasskeyCeremony> {
        let loaded = self
            .load_challenge(handle, MfaChallengeKind::Verify)
            .await?;
        self.start_assertion(loaded.user.id, hash_hex(handle)).await
    }

    /// Starts a passkey re-authentication of the caller's own session; finish with
    /// [`Engine::reauthenticate`] and [`SecondFactorProof::Passkey`].
    pub async fn start_passkey_reauth(&self, p: &Principal) -> CoreResult<PasskeyCeremony> {
        own_session(p)?;
        let sid = p
            .session()
            .ok_or(CoreError::CredentialNotAllowed("re-authenticate"))?;
        self.start_assertion(p.user, sid.0.clone()).await
    }

    /// Starts a passwordless sign-in: options for a discoverable credential (no user named,
    /// user verification required).
    pub async fn start_passkey_sign_in(&self) -> CoreResult<PasskeyCeremony> {
        let (options, ceremony) = self
            .relying_party()?
            .start_discoverable_authentication()
            .map_err(|e| CoreError::Internal(format!("passkey sign-in: {e}")))?;
        self.ceremony_options(None, purpose::PASSWORDLESS, None, &ceremony, &options)
            .await
    }

    /// Finishes a passwordless sign-in: the answer's user handle names the user, whose passkey
    /// must verify (throttled like a password). With user verification it counts as two
    /// factors (`amr` `hwk`/`swk` + `mfa`) and signs in; without, the user's MFA rule asks for
    /// more (as after a password). Any failure is one answer: invalid credentials.
    pub async fn finish_passkey_sign_in(
        &self,
        answer: PasskeyAnswer<'_>,
        choice: OrgChoice,
        ctx: &AuditContext,
    ) -> CoreResult<SignInStep> {
        let credential: PublicKeyCredential = parse_answer(answer.credential)?;
        let named = credential
            .get_user_unique_id()
            .and_then(|b| uuid::Uuid::from_slice(b).ok());
        let user = match named {
            Some(id) => self.active_user(UserId(id)).await.ok(),
            None => None,
        };
        let Some(user) = user else {
            // Spend the ceremony all the same: one answer per ceremony.
            let _ = self
                .store()
                .take_webauthn_ceremony(&ceremony_hash(answer.ceremony), Utc::now())
                .await;
            self.audit()
                .log(
                    ctx,
                    Utc::now(),
                    None,
                    AuditAction::Login,
                    None,
                    AuditOutcome::Failure,
                    json!({"method": "passkey", "reason": "unknown user handle"}),
                )
                .await;
            return Err(CoreError::InvalidCredentials);
        };
        let proof = SecondFactorProof::Passkey(answer);
        let methods = self
            .verify_second_factor(&user, proof, FactorPurpose::Passwordless, ctx)
            .await
            .map_err(|e| match e {
                CoreError::Mfa(MfaRefusal::InvalidCode) => CoreError::InvalidCredentials,
                other => other,
            })?;
        self.sign_in_verified(user, methods, choice, None, ctx)
            .await
    }

    /// Starts the passkey enrolment a stopped sign-in needs (policy `required`, no factor).
    pub async fn start_challenge_passkey_enrolment(
        &self,
        handle: &str,
        ctx: &AuditContext,
    ) -> CoreResult<PasskeyCeremony> {
        let loaded = self.load_challenge(handle, MfaChallengeKind::Enrol).await?;
        let state = self.mfa_state(loaded.user.id).await?;
        self.begin_passkey(&loaded.user, &state, Some(hash_hex(handle)), ctx)
            .await
    }

    /// Registers that passkey and finishes the sign-in (`amr` first factor + `hwk`/`swk` +
    /// `mfa`); the recovery codes to show come with it.
    pub async fn complete_challenge_passkey_enrolment(
        &self,
        handle: &str,
        answer: PasskeyAnswer<'_>,
        name: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<(LoginGrant, ConfirmedPasskey)> {
        let loaded = self.load_challenge(handle, MfaChallengeKind::Enrol).await?;
        let binding = Some(hash_hex(handle));
        let confirmed = self
            .finish_passkey(&loaded.user, answer, name, binding, ctx)
            .await?;
        let cross_platform = answer
            .credential
            .get("authenticatorAttachment")
            .and_then(|v| v.as_str())
            == Some("cross-platform");
        let method = if cross_platform { amr::HWK } else { amr::SWK };
        let grant = self
            .take_and_finish(handle, loaded, vec![method.into()], ctx)
            .await?;
        Ok((grant, confirmed))
    }
}
