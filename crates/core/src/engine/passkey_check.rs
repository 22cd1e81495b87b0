//! Passkey checks inside the engine (docs/design/mfa.md "Passkeys"): the relying party built
//! from `core.public_url`, the stored credential, and the check of an assertion that
//! `verify_second_factor` runs inside the login throttle. Verification is `webauthn-rs`'s.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::*;

use super::{CheckOutcome, Engine};
use crate::crypto;
use crate::error::{CoreError, CoreResult};
use crate::model::*;

/// What a ceremony is for (the `purpose` column).
pub mod purpose {
    pub const REGISTER: &str = "register";
    pub const SECOND_FACTOR: &str = "second_factor";
    pub const PASSWORDLESS: &str = "passwordless";
}

/// The browser's answer to a registration: the `PublicKeyCredential` as JSON (base64url
/// binary fields) and the `authenticatorAttachment` it reported.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyAnswer<'a> {
    pub ceremony: &'a str,
    pub credential: &'a serde_json::Value,
}

/// What `user_factors.credential` holds for a passkey: the library's credential (public key,
/// counter, flags) and the attachment the browser reported at registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredPasskey {
    pub passkey: Passkey,
    #[serde(default)]
    pub cross_platform: bool,
}

impl StoredPasskey {
    pub(crate) fn parse(f: &Factor) -> CoreResult<StoredPasskey> {
        let text = f.credential.as_deref().unwrap_or_default();
        serde_json::from_str(text).map_err(|e| CoreError::Internal(format!("factor {}: {e}", f.id)))
    }

    pub(crate) fn to_json(&self) -> CoreResult<String> {
        serde_json::to_string(self).map_err(|e| CoreError::Internal(e.to_string()))
    }

    /// RFC 8176: `hwk` for a key bound to one roaming authenticator (a security key: reported
    /// cross-platform and not backup-eligible), else `swk` (platform or synced passkeys).
    pub(crate) fn amr(&self, backup_eligible: bool) -> &'static str {
        if self.cross_platform && !backup_eligible {
            amr::HWK
        } else {
            amr::SWK
        }
    }
}

/// The credential id as stored (`user_factors.credential_id`): base64url without padding.
pub(crate) fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

pub(crate) fn ceremony_hash(handle: &str) -> String {
    hex::encode(crypto::sha256(handle.as_bytes()))
}

/// One answer for every unusable ceremony handle.
pub(crate) const CEREMONY_EXPIRED: CoreError =
    CoreError::InvalidToken("the passkey ceremony is invalid, finished or expired");

pub(crate) fn to_json<T: Serialize>(v: &T) -> CoreResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| CoreError::Internal(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> CoreResult<T> {
    serde_json::from_value(v).map_err(|e| CoreError::Internal(format!("passkey ceremony: {e}")))
}

/// The browser's credential JSON, or a clear refusal.
pub(crate) fn parse_answer<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> CoreResult<T> {
    T::deserialize(v).map_err(|e| {
        CoreError::InvalidArgument(format!("credential is not a WebAuthn credential: {e}"))
    })
}

impl Engine {
    /// The relying party: id = the host of `core.public_url`, origin = that URL. A URL whose
    /// host cannot be a WebAuthn relying party id (an IP address) disables passkeys.
    pub(crate) fn relying_party(&self) -> CoreResult<Webauthn> {
        let unavailable = |why: String| {
            CoreError::InvalidArgument(format!(
                "passkeys need core.public_url with a host name (https, or http://localhost): {why}"
            ))
        };
        let origin =
            Url::parse(&self.config().public_url).map_err(|e| unavailable(e.to_string()))?;
        let host = origin
            .host_str()
            .ok_or_else(|| unavailable("no host".into()))?;
        WebauthnBuilder::new(host, &origin)
            .and_then(|b| b.rp_name("Portcullis").build())
            .map_err(|e| unavailable(e.to_string()))
    }

    /// Whether a browser can use passkeys here, so pages offer them: the relying party exists
    /// and `core.public_url` is a secure context (HTTPS, or `http://localhost` and its
    /// subdomains, which browsers treat as secure).
    pub fn passkeys_available(&self) -> bool {
        let Ok(url) = Url::parse(&self.config().public_url) else {
            return false;
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let secure = url.scheme() == "https"
            || (url.scheme() == "http" && (host == "localhost" || host.ends_with(".localhost")));
        secure && self.relying_party().is_ok()
    }
}

/// Checks a passkey answer for `user` (called inside the throttle): takes the ceremony, finds
/// the user's usable passkey with the answer's credential id, lets the library verify the
/// assertion (challenge, origin, rp id, user verification, signature, counter), then records
/// the new counter with one conditional update. The `amr` it adds: `hwk` or `swk`, and `mfa`
/// when the authenticator verified the user.
pub(crate) async fn check_passkey(
    engine: &Engine,
    user: UserId,
    state: &MfaState,
    answer: PasskeyAnswer<'_>,
    now: Timestamp,
) -> CoreResult<CheckOutcome> {
    let record = engine
        .store()
        .take_webauthn_ceremony(&ceremony_hash(answer.ceremony), now)
        .await?
        .filter(|c| c.purpose == purpose::SECOND_FACTOR || c.purpose == purpose::PASSWORDLESS)
        .ok_or(CEREMONY_EXPIRED)?;
    if record.user_id.is_some_and(|u| u != user) {
        return Ok(CheckOutcome::Wrong);
    }
    let credential: PublicKeyCredential = parse_answer(answer.credential)?;
    let id = credential_id_text(credential.get_credential_id());
    // Unknown ids and other users' passkeys are not among this user's usable factors.
    let Some(factor) = state
        .usable()
        .find(|f| f.kind == FactorKind::Webauthn && f.credential_id.as_deref() == Some(&id))
    else {
        return Ok(CheckOutcome::Wrong);
    };
    let mut stored = StoredPasskey::parse(factor)?;
    let rp = engine.relying_party()?;
    let result = if record.purpose == purpose::PASSWORDLESS {
        let ceremony: DiscoverableAuthentication = from_json(record.state)?;
        rp.finish_discoverable_authentication_v2(&credential, ceremony, &stored.passkey)
    } else {
        let ceremony: PasskeyAuthentication = from_json(record.state)?;
        rp.finish_passkey_authentication(&credential, &ceremony)
    };
    let result = match result {
        Ok(r) => r,
        Err(WebauthnError::CredentialPossibleCompromise) => return Ok(CheckOutcome::Replayed),
        Err(e) => {
            tracing::info!(factor = %factor.id.0, error = %e, "passkey assertion rejected");
            return Ok(CheckOutcome::Wrong);
        }
    };
    stored.passkey.update_credential(&result);
    let counter = i64::from(result.counter());
    // A clone answering with a counter already seen loses here, whichever node it reaches.
    if !engine
        .store()
        .record_passkey_use(factor.id, counter, &stored.to_json()?, now)
        .await?
    {
        return Ok(CheckOutcome::Replayed);
    }
    let mut methods = vec![stored.amr(result.backup_eligible()).to_owned()];
    if result.user_verified() {
        methods.push(amr::MFA.to_owned());
    }
    Ok(CheckOutcome::Accepted(Some(factor.id), methods))
}
