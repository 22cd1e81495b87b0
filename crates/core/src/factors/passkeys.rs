//! Passkeys (WebAuthn, docs/design/mfa.md "Passkeys"): ceremonies kept in the store (single
//! use, [`CEREMONY_TTL_SECS`]) and registration on the caller's own, recently authenticated
//! session or inside a stopped sign-in's enrolment. The relying party and the assertion
//! check are `engine/passkey_check.rs`; every verification is the `webauthn-rs` library's.
//! Using a passkey is `passkey_sign_in.rs`.

use chrono::Utc;
use serde_json::json;
use webauthn_rs::prelude::*;

use super::{FactorView, own_session, recovery_hashes};
use crate::audit::{AuditAction, AuditContext};
use crate::crypto;
use crate::engine::Engine;
use crate::engine::passkey_check::{
    CEREMONY_EXPIRED, PasskeyAnswer, StoredPasskey, ceremony_hash, credential_id_text, from_json,
    parse_answer, purpose, to_json,
};
use crate::error::{CoreError, CoreResult, MfaRefusal};
use crate::model::*;
use crate::tokens::Principal;

/// How long a started ceremony waits for the browser's answer.
pub const CEREMONY_TTL_SECS: i64 = 300;

/// A started ceremony: the handle the client sends back with its answer, and the options for
/// `navigator.credentials.create` / `.get` (the `publicKey` member, base64url binary fields).
#[derive(Clone)]
pub struct PasskeyCeremony {
    pub ceremony: String,
    pub options: serde_json::Value,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for PasskeyCeremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyCeremony")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A registered passkey, and the recovery codes when it is the user's first factor (shown only
/// now).
#[derive(Clone)]
pub struct ConfirmedPasskey {
    pub factor: FactorView,
    pub recovery_codes: Option<Vec<zeroize::Zeroizing<String>>>,
}

impl std::fmt::Debug for ConfirmedPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmedPasskey")
            .field("factor", &self.factor)
            .field(
                "recovery_codes",
                &self.recovery_codes.as_ref().map(Vec::len),
            )
            .finish()
    }
}

/// The `publicKey` member of the library's options (what `navigator.credentials` takes).
fn public_key_options(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(mut m) => m.remove("publicKey").unwrap_or_default(),
        other => other,
    }
}

impl Engine {
    /// Stores a ceremony's state and returns the handle for it.
    pub(crate) async fn store_ceremony(
        &self,
        user: Option<UserId>,
        purpose: &str,
        binding: Option<String>,
        state: serde_json::Value,
    ) -> CoreResult<(String, Timestamp)> {
        let now = Utc::now();
        self.purge_mfa_now_and_then(now).await?;
        let handle = crypto::random_token(32);
        let expires_at = now + chrono::Duration::seconds(CEREMONY_TTL_SECS);
        self.store()
            .insert_webauthn_ceremony(WebauthnCeremonyRecord {
                key_hash: ceremony_hash(&handle),
                user_id: user,
                purpose: purpose.to_owned(),
                binding,
                state,
                created_at: now,
                expires_at,
            })
            .await?;
        Ok((handle, expires_at))
    }

    /// Takes (single use) the unexpired ceremony of `handle` made for `purpose`.
    pub(crate) async fn take_ceremony(
        &self,
        handle: &str,
        purpose: &str,
    ) -> CoreResult<WebauthnCeremonyRecord> {
        if !super::sign_in::well_formed(handle) {
            return Err(CEREMONY_EXPIRED);
        }
        self.store()
            .take_webauthn_ceremony(&ceremony_hash(handle), Utc::now())
            .await?
            .filter(|c| c.purpose == purpose)
            .ok_or(CEREMONY_EXPIRED)
    }

    /// Starts registering a passkey on the caller's own, recently authenticated session
    /// (docs/design/mfa.md): the options for `navigator.credentials.create`.
    pub async fn start_passkey_registration(
        &self,
        p: &Principal,
        ctx: &AuditContext,
    ) -> CoreResult<PasskeyCeremony> {
        let (user, state) = self
            .recent_own_session(p, AuditAction::FactorEnrol, ctx)
            .await?;
        let binding = p.session().map(|s| s.0.clone());
        self.begin_passkey(&user, &state, binding, ctx).await
    }

    /// Finishes the caller's registration with the browser's answer and a name. The ceremony
    /// must be this session's (started under the recent-authentication rule).
    pub async fn finish_passkey_registration(
        &self,
        p: &Principal,
        answer: PasskeyAnswer<'_>,
        name: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<ConfirmedPasskey> {
        own_session(p)?;
        let user = self.active_user(p.user).await?;
        let binding = p.session().map(|s| s.0.clone());
        self.finish_passkey(&user, answer, name, binding, ctx).await
    }

    pub(super) async fn begin_passkey(
        &self,
        user: &User,
        state: &MfaState,
        binding: Option<String>,
        ctx: &AuditContext,
    ) -> CoreResult<PasskeyCeremony> {
        let rp = self.relying_party()?;
        // The user's passkeys are excluded, so one authenticator is registered once.
        let mut exclude = Vec::new();
        for f in state.factors.iter().filter(|f| f.is_confirmed()) {
            if f.kind == FactorKind::Webauthn {
                exclude.push(StoredPasskey::parse(f)?.passkey.cred_id().clone());
            }
        }
        let (options, reg) = rp
            .start_passkey_registration(user.id.0, &user.email, &user.email, Some(exclude))
            .map_err(|e| CoreError::Internal(format!("passkey registration: {e}")))?;
        let (ceremony, expires_at) = self
            .store_ceremony(Some(user.id), purpose::REGISTER, binding, to_json(&reg)?)
            .await?;
        self.audit_own(
            ctx,
            user,
            AuditAction::FactorEnrol,
            AuditOutcome::Success,
            json!({"stage": "start", "kind": "webauthn"}),
        )
        .await;
        let mut options = public_key_options(to_json(&options)?);
        // Ask for a discoverable credential where the authenticator can make one (passwordless
        // sign-in); a security key without room still works as a second factor. The stored
        // state does not require one, so either answer verifies.
        if let Some(sel) = options.get_mut("authenticatorSelection") {
            sel["residentKey"] = json!("preferred");
            sel["requireResidentKey"] = json!(false);
        }
        Ok(PasskeyCeremony {
            ceremony,
            options,
            expires_at,
        })
    }

    /// Verifies the answer against the stored ceremony (the library's checks: challenge,
    /// origin, rp id, user verification, signature) and stores the confirmed factor.
    pub(super) async fn finish_passkey(
        &self,
        user: &User,
        answer: PasskeyAnswer<'_>,
        name: Option<&str>,
        binding: Option<String>,
        ctx: &AuditContext,
    ) -> CoreResult<ConfirmedPasskey> {
        let name = super::enrol::factor_name(name, "Passkey")?;
        let record = self
            .take_ceremony(answer.ceremony, purpose::REGISTER)
            .await?;
        if record.user_id != Some(user.id) || record.binding != binding {
            return Err(CEREMONY_EXPIRED);
        }
        let state = self.mfa_state(user.id).await?;
        if !state.policy().allows(FactorKind::Webauthn) {
            return Err(CoreError::Mfa(MfaRefusal::KindNotAllowed));
        }
        let reg: PasskeyRegistration = from_json(record.state)?;
        let credential: RegisterPublicKeyCredential = parse_answer(answer.credential)?;
        let cross_platform = answer
            .credential
            .get("authenticatorAttachment")
            .and_then(|v| v.as_str())
            == Some("cross-platform");
        let passkey = match self
            .relying_party()?
            .finish_passkey_registration(&credential, &reg)
        {
            Ok(p) => p,
            Err(e) => {
                let detail = json!({"stage": "confirm", "kind": "webauthn",
                                    "reason": format!("rejected: {e}")});
                self.audit_own(
                    ctx,
                    user,
                    AuditAction::FactorEnrol,
                    AuditOutcome::Failure,
                    detail,
                )
                .await;
                return Err(CoreError::Mfa(MfaRefusal::InvalidCode));
            }
        };
        let stored = StoredPasskey {
            passkey,
            cross_platform,
        };
        let now = Utc::now();
        let id = FactorId::new();
        let credential_id = credential_id_text(stored.passkey.cred_id().as_ref());
        let insert = self
            .store()
            .insert_pending_factor(Factor {
                id,
                user_id: user.id,
                kind: FactorKind::Webauthn,
                name: name.clone(),
                secret: None,
                credential_id: Some(credential_id),
                credential: Some(stored.to_json()?),
                counter: 0,
                confirmed_at: None,
                created_at: now,
                last_used_at: None,
            })
            .await;
        if let Err(crate::store::StoreError::Conflict(_)) = insert {
            return Err(CoreError::Conflict(
                "this passkey is already registered".into(),
            ));
        }
        insert?;
        let codes = (state.recovery_codes_left == 0).then(crate::totp::new_recovery_codes);
        let hashes = codes.as_deref().map(recovery_hashes);
        let since = now - chrono::Duration::seconds(1);
        let confirmed = self
            .store()
            .confirm_factor(user.id, id, 0, since, hashes.as_deref(), now)
            .await?;
        if !confirmed {
            return Err(CoreError::NotFound("pending enrolment"));
        }
        let detail = json!({"stage": "confirm", "factor": id, "kind": "webauthn", "name": name,
                            "cross_platform": cross_platform,
                            "recovery_codes": codes.as_ref().map(Vec::len)});
        self.audit_own(
            ctx,
            user,
            AuditAction::FactorEnrol,
            AuditOutcome::Success,
            detail,
        )
        .await;
        Ok(ConfirmedPasskey {
            factor: FactorView {
                id,
                kind: FactorKind::Webauthn,
                name,
                created_at: now,
                last_used_at: Some(now),
            },
            recovery_codes: codes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_the_public_key_member() {
        let v = json!({"publicKey": {"challenge": "abc"}});
        assert_eq!(public_key_options(v), json!({"challenge": "abc"}));
    }
}
