//! Token signing keys: rotation and emergency revocation, for the engine and the CLI alike.

use super::*;
use crate::error::CoreError;
use crate::keys::{KeyError, KeyRing};

/// A rotation's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The new signing key.
    pub kid: String,
    /// The key it replaced; it keeps verifying the tokens it signed until they expire.
    pub retired: String,
}

/// A revocation's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRevocation {
    pub kid: String,
    pub already_revoked: bool,
    /// The key signing after the revocation.
    pub signing_kid: String,
}

/// Rotates the signing key; the old public key stays published.
pub async fn rotate_signing_key(uc: &UseCaseCtx<'_>, ring: &KeyRing) -> CoreResult<Rotation> {
    let retired = ring.signing_kid();
    let kid = ring.rotate(uc.store, Utc::now()).await?;
    uc.audit(
        AuditAction::KeysRotate,
        Some(kid.clone()),
        AuditOutcome::Success,
        json!({ "retired": retired }),
    )
    .await?;
    Ok(Rotation { kid, retired })
}

/// Emergency revocation: a new key takes over signing first if `kid` signs now; from then on
/// `kid` verifies nothing, in this process at once and elsewhere through the revocation feed.
pub async fn revoke_signing_key(
    uc: &UseCaseCtx<'_>,
    ring: &KeyRing,
    kid: &str,
) -> CoreResult<KeyRevocation> {
    let revoked = ring
        .revoke(uc.store, kid, Utc::now())
        .await
        .map_err(|e| match e {
            KeyError::Store(StoreError::NotFound(_)) => CoreError::NotFound("signing key"),
            other => other.into(),
        })?;
    if let Some(view) = uc.revocations {
        view.revoke_key(kid.to_owned());
    }
    let r = KeyRevocation {
        kid: kid.to_owned(),
        already_revoked: !revoked,
        signing_kid: ring.signing_kid(),
    };
    uc.audit(
        AuditAction::KeysRevoke,
        Some(kid.to_owned()),
        AuditOutcome::Success,
        json!({ "already_revoked": r.already_revoked, "signing": r.signing_kid }),
    )
    .await?;
    Ok(r)
}
