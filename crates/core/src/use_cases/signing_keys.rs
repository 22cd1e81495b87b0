//! Token signing keys: rotation and emergency revocation, for the engine and the CLI alike,
//! for each algorithm's ring.

use super::*;
use crate::error::CoreError;
use crate::keys::{KeyError, SigningKeys};
use crate::model::IdTokenAlg;

/// A rotation's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    pub alg: IdTokenAlg,
    /// The new signing key.
    pub kid: String,
    /// The key it replaced (none when it is the algorithm's first key); it keeps verifying the
    /// tokens it signed until they expire.
    pub retired: Option<String>,
}

/// A revocation's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRevocation {
    pub alg: IdTokenAlg,
    pub kid: String,
    pub already_revoked: bool,
    /// The key of that algorithm signing after the revocation.
    pub signing_kid: Option<String>,
}

/// Rotates `alg`'s signing key; the old public key stays published.
pub async fn rotate_signing_key(
    uc: &UseCaseCtx<'_>,
    keys: &SigningKeys,
    alg: IdTokenAlg,
) -> CoreResult<Rotation> {
    let (kid, retired) = keys.ring(alg).rotate(uc.store, Utc::now()).await?;
    uc.audit(
        AuditAction::KeysRotate,
        Some(kid.clone()),
        AuditOutcome::Success,
        json!({ "alg": alg, "retired": retired }),
    )
    .await?;
    Ok(Rotation { alg, kid, retired })
}

/// Emergency revocation: a new key takes over signing first if `kid` signs now; from then on
/// `kid` verifies nothing, in this process at once and elsewhere through the revocation feed.
/// `alg`, when given, must be the key's algorithm; otherwise it is looked up.
pub async fn revoke_signing_key(
    uc: &UseCaseCtx<'_>,
    keys: &SigningKeys,
    kid: &str,
    alg: Option<IdTokenAlg>,
) -> CoreResult<KeyRevocation> {
    let Some(found) = keys.alg_of(uc.store, kid).await? else {
        return Err(CoreError::NotFound("signing key"));
    };
    if let Some(asked) = alg.filter(|a| *a != found) {
        return Err(CoreError::InvalidArgument(format!(
            "signing key {kid} is an {found} key, not {asked}"
        )));
    }
    let ring = keys.ring(found);
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
        alg: found,
        kid: kid.to_owned(),
        already_revoked: !revoked,
        signing_kid: ring.signing_kid(),
    };
    uc.audit(
        AuditAction::KeysRevoke,
        Some(kid.to_owned()),
        AuditOutcome::Success,
        json!({ "alg": found, "already_revoked": r.already_revoked, "signing": r.signing_kid }),
    )
    .await?;
    Ok(r)
}
