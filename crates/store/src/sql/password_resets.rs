//! Admin-forced password resets and their one-time codes.

use portcullis_core::model::*;
use portcullis_core::store::{Deactivation, StoreResult};

use super::{revocation_feed, sessions};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

/// Flags the user, revokes every live session (and active credential when asked), replaces any
/// earlier code and announces the user.
pub(crate) async fn require<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    code_hash: &[u8; 32],
    expires_at: Timestamp,
    revoke_credentials: bool,
    at: Timestamp,
) -> StoreResult<Deactivation> {
    let n =
        q::<B>("UPDATE users SET password_reset_required = TRUE, updated_at = $2 WHERE id = $1")
            .bind(user.0)
            .bind_ts(at)
            .execute(w.conn())
            .await?;
    if n == 0 {
        return Err(not_found("unknown user"));
    }
    let d = if revoke_credentials {
        revocation_feed::revoke_all::<B>(w.conn(), user, None, None, at).await?
    } else {
        Deactivation {
            sessions_revoked: sessions::revoke_live::<B>(w.conn(), user, None, at).await?,
            credentials_revoked: 0,
        }
    };
    q::<B>(
        "INSERT INTO password_reset_codes (user_id, code_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
         code_hash = excluded.code_hash, created_at = excluded.created_at, \
         expires_at = excluded.expires_at",
    )
    .bind(user.0)
    .bind(code_hash.to_vec())
    .bind_ts(at)
    .bind_ts(expires_at)
    .execute(w.conn())
    .await?;
    w.announce(RevocationEvent::User(user));
    Ok(d)
}

/// With a valid code for an active user: deletes it, stores the password, clears the flag,
/// revokes every live session and announces the user; `None` otherwise.
pub(crate) async fn redeem<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    code_hash: &[u8; 32],
    password_hash: &str,
    at: Timestamp,
) -> StoreResult<Option<u64>> {
    // The delete is the single-use guarantee: of two concurrent redeemers, one deletes the row
    // and the other finds nothing.
    let redeemed = q::<B>(
        "DELETE FROM password_reset_codes WHERE user_id = $1 AND code_hash = $2 \
         AND expires_at > $3 \
         AND user_id IN (SELECT id FROM users WHERE deactivated = FALSE) \
         RETURNING user_id",
    )
    .bind(user.0)
    .bind(code_hash.to_vec())
    .bind_ts(at)
    .fetch_optional(w.conn())
    .await?;
    if redeemed.is_none() {
        return Ok(None);
    }
    q::<B>(
        "UPDATE users SET password_hash = $2, password_reset_required = FALSE, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(user.0)
    .bind(password_hash.to_string())
    .bind_ts(at)
    .execute(w.conn())
    .await?;
    let n = sessions::revoke_live::<B>(w.conn(), user, None, at).await?;
    w.announce(RevocationEvent::User(user));
    Ok(Some(n))
}
