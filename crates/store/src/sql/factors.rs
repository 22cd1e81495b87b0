//! Second factors, recovery codes, org MFA policies, stopped sign-ins and session
//! re-authentication (docs/design/mfa.md). Single use is always one conditional statement.

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{ensure_org, ensure_user, rows};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

// Column lists as macros so statements stay `&'static str` (`concat!`), as in `columns.rs`.
macro_rules! factor_cols {
    () => {
        "id, user_id, kind, name, secret, credential_id, credential, counter, confirmed_at, \
         created_at, last_used_at"
    };
}
macro_rules! challenge_cols {
    () => {
        "key_hash, user_id, kind, login, created_at, expires_at"
    };
}

fn factor_from<B: Backend>(r: &B::Row) -> StoreResult<Factor> {
    let kind: String = B::col(r, 2)?;
    Ok(Factor {
        id: FactorId(B::col(r, 0)?),
        user_id: UserId(B::col(r, 1)?),
        kind: FactorKind::parse(&kind).ok_or_else(|| corrupt(format!("factor kind {kind:?}")))?,
        name: B::col(r, 3)?,
        secret: B::col(r, 4)?,
        credential_id: B::col(r, 5)?,
        credential: B::col(r, 6)?,
        counter: B::col(r, 7)?,
        confirmed_at: B::opt_ts(r, 8)?,
        created_at: B::ts(r, 9)?,
        last_used_at: B::opt_ts(r, 10)?,
    })
}

fn policy_from<B: Backend>(r: &B::Row) -> StoreResult<MfaPolicy> {
    let mode: String = B::col(r, 0)?;
    Ok(MfaPolicy {
        mode: parse(&mode)?,
        passkeys_only: B::col(r, 1)?,
    })
}

/// Factors, the policies of the user's active memberships in enabled orgs, unused codes.
pub(crate) async fn state<B: Backend>(conn: &mut B::Conn, user: UserId) -> StoreResult<MfaState> {
    let factors = q::<B>(concat!(
        "SELECT ",
        factor_cols!(),
        " FROM user_factors WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    let policies = q::<B>(
        "SELECT COALESCE(p.mfa, 'optional'), COALESCE(p.passkeys_only, FALSE) \
         FROM memberships m JOIN orgs o ON o.id = m.org_id \
         LEFT JOIN org_mfa_policies p ON p.org_id = m.org_id \
         WHERE m.user_id = $1 AND m.removed_at IS NULL AND m.deactivated = FALSE \
         AND o.disabled = FALSE",
    )
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    let left = q::<B>("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.0)
        .fetch_one(conn)
        .await?;
    let left: i64 = B::col(&left, 0)?;
    Ok(MfaState {
        factors: rows::<B, _>(factors, factor_from::<B>)?,
        policies: rows::<B, _>(policies, policy_from::<B>)?,
        recovery_codes_left: u32::try_from(left).unwrap_or(u32::MAX),
    })
}

pub(crate) async fn insert_pending<B: Backend>(w: &mut Write<B>, f: Factor) -> StoreResult<()> {
    ensure_user::<B>(w.conn(), f.user_id).await?;
    q::<B>("DELETE FROM user_factors WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NULL")
        .bind(f.user_id.0)
        .bind(f.kind.as_str())
        .execute(w.conn())
        .await?;
    q::<B>(
        "INSERT INTO user_factors (id, user_id, kind, name, secret, credential_id, credential, \
         counter, confirmed_at, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, NULL)",
    )
    .bind(f.id.0)
    .bind(f.user_id.0)
    .bind(f.kind.as_str())
    .bind(f.name)
    .bind(f.secret)
    .bind(f.credential_id)
    .bind(f.credential)
    .bind(f.counter)
    .bind_ts(f.created_at)
    .execute(w.conn())
    .await?;
    Ok(())
}

pub(crate) async fn confirm<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    id: FactorId,
    counter: i64,
    created_after: Timestamp,
    recovery: Option<&[[u8; 32]]>,
    at: Timestamp,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE user_factors SET confirmed_at = $4, counter = $3, last_used_at = $4 \
         WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL AND created_at > $5",
    )
    .bind(id.0)
    .bind(user.0)
    .bind(counter)
    .bind_ts(at)
    .bind_ts(created_after)
    .execute(w.conn())
    .await?;
    if n == 0 {
        return Ok(false);
    }
    if let Some(hashes) = recovery {
        replace_codes::<B>(w.conn(), user, hashes, at).await?;
    }
    Ok(true)
}

pub(crate) async fn advance<B: Backend>(
    conn: &mut B::Conn,
    id: FactorId,
    counter: i64,
    at: Timestamp,
) -> StoreResult<bool> {
    // The condition is re-checked on the newest row version: one winner per counter value.
    let n = q::<B>(
        "UPDATE user_factors SET counter = $2, last_used_at = $3 \
         WHERE id = $1 AND confirmed_at IS NOT NULL AND counter < $2",
    )
    .bind(id.0)
    .bind(counter)
    .bind_ts(at)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// A passkey's use: the new sign counter and credential, when the counter moved forward (or
/// both are 0: an authenticator without a counter). One conditional update.
pub(crate) async fn record_passkey_use<B: Backend>(
    conn: &mut B::Conn,
    id: FactorId,
    counter: i64,
    credential: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE user_factors SET counter = $2, credential = $3, last_used_at = $4 \
         WHERE id = $1 AND confirmed_at IS NOT NULL AND kind = 'webauthn' \
         AND (counter < $2 OR ($2 = 0 AND counter = 0))",
    )
    .bind(id.0)
    .bind(counter)
    .bind(credential.to_string())
    .bind_ts(at)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub(crate) async fn delete<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    id: FactorId,
) -> StoreResult<bool> {
    let n = q::<B>("DELETE FROM user_factors WHERE id = $1 AND user_id = $2")
        .bind(id.0)
        .bind(user.0)
        .execute(w.conn())
        .await?;
    if n == 0 {
        return Ok(false);
    }
    let left =
        q::<B>("SELECT COUNT(*) FROM user_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL")
            .bind(user.0)
            .fetch_one(w.conn())
            .await?;
    if B::col::<i64>(&left, 0)? == 0 {
        q::<B>("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(w.conn())
            .await?;
    }
    Ok(true)
}

/// Every factor, code and challenge of the user; returns how many factors.
pub(crate) async fn delete_all<B: Backend>(conn: &mut B::Conn, user: UserId) -> StoreResult<u64> {
    let n = q::<B>("DELETE FROM user_factors WHERE user_id = $1")
        .bind(user.0)
        .execute(conn)
        .await?;
    for sql in [
        "DELETE FROM recovery_codes WHERE user_id = $1",
        "DELETE FROM mfa_challenges WHERE user_id = $1",
        "DELETE FROM webauthn_ceremonies WHERE user_id = $1",
    ] {
        q::<B>(sql).bind(user.0).execute(conn).await?;
    }
    Ok(n)
}

pub(crate) async fn replace_codes<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    hashes: &[[u8; 32]],
    at: Timestamp,
) -> StoreResult<()> {
    ensure_user::<B>(conn, user).await?;
    q::<B>("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.0)
        .execute(conn)
        .await?;
    for h in hashes {
        q::<B>(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) \
             VALUES ($1, $2, $3, NULL)",
        )
        .bind(user.0)
        .bind(h.to_vec())
        .bind_ts(at)
        .execute(conn)
        .await?;
    }
    Ok(())
}

pub(crate) async fn use_code<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    hash: &[u8; 32],
    at: Timestamp,
) -> StoreResult<bool> {
    let n = q::<B>(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user.0)
    .bind(hash.to_vec())
    .bind_ts(at)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub(crate) async fn get_policy<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
) -> StoreResult<MfaPolicy> {
    let row = q::<B>("SELECT mfa, passkeys_only FROM org_mfa_policies WHERE org_id = $1")
        .bind(org.0)
        .fetch_optional(conn)
        .await?;
    row.map_or(Ok(MfaPolicy::default()), |r| policy_from::<B>(&r))
}

pub(crate) async fn set_policy<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    policy: MfaPolicy,
    at: Timestamp,
) -> StoreResult<()> {
    ensure_org::<B>(conn, org).await?;
    q::<B>(
        "INSERT INTO org_mfa_policies (org_id, mfa, passkeys_only, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (org_id) DO UPDATE SET mfa = excluded.mfa, \
         passkeys_only = excluded.passkeys_only, updated_at = excluded.updated_at",
    )
    .bind(org.0)
    .bind(policy.mode.as_str())
    .bind(policy.passkeys_only)
    .bind_ts(at)
    .execute(conn)
    .await?;
    Ok(())
}

fn challenge_from<B: Backend>(r: &B::Row) -> StoreResult<MfaChallengeRecord> {
    let kind: String = B::col(r, 2)?;
    Ok(MfaChallengeRecord {
        key_hash: B::col(r, 0)?,
        user_id: UserId(B::col(r, 1)?),
        kind: MfaChallengeKind::parse(&kind)
            .ok_or_else(|| corrupt(format!("mfa challenge kind {kind:?}")))?,
        login: json_parse(&B::col::<String>(r, 3)?)?,
        created_at: B::ts(r, 4)?,
        expires_at: B::ts(r, 5)?,
    })
}

pub(crate) async fn insert_challenge<B: Backend>(
    conn: &mut B::Conn,
    c: MfaChallengeRecord,
) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO mfa_challenges (key_hash, user_id, kind, login, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.key_hash)
    .bind(c.user_id.0)
    .bind(c.kind.as_str())
    .bind(json_text(&c.login)?)
    .bind_ts(c.created_at)
    .bind_ts(c.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn challenge<B: Backend>(
    conn: &mut B::Conn,
    key_hash: &str,
    now: Timestamp,
    take: bool,
) -> StoreResult<Option<MfaChallengeRecord>> {
    let sql = if take {
        concat!(
            "DELETE FROM mfa_challenges WHERE key_hash = $1 RETURNING ",
            challenge_cols!()
        )
    } else {
        concat!(
            "SELECT ",
            challenge_cols!(),
            " FROM mfa_challenges WHERE key_hash = $1"
        )
    };
    let row = q::<B>(sql)
        .bind(key_hash.to_string())
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let c = challenge_from::<B>(&r)?;
    Ok((c.expires_at > now).then_some(c))
}

pub(crate) async fn purge<B: Backend>(
    conn: &mut B::Conn,
    now: Timestamp,
    pending_before: Timestamp,
) -> StoreResult<u64> {
    let a = q::<B>("DELETE FROM mfa_challenges WHERE expires_at <= $1")
        .bind_ts(now)
        .execute(conn)
        .await?;
    let b = q::<B>("DELETE FROM user_factors WHERE confirmed_at IS NULL AND created_at < $1")
        .bind_ts(pending_before)
        .execute(&mut *conn)
        .await?;
    let c = q::<B>("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
        .bind_ts(now)
        .execute(conn)
        .await?;
    Ok(a + b + c)
}

pub(crate) async fn record_reauth<B: Backend>(
    conn: &mut B::Conn,
    session: &SessionId,
    at: Timestamp,
    methods: &[String],
) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO session_reauth (session_id, verified_at, methods) VALUES ($1, $2, $3) \
         ON CONFLICT (session_id) DO UPDATE SET verified_at = excluded.verified_at, \
         methods = excluded.methods",
    )
    .bind(session.0.clone())
    .bind_ts(at)
    .bind(json_text(&methods)?)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get_reauth<B: Backend>(
    conn: &mut B::Conn,
    session: &SessionId,
) -> StoreResult<Option<(Timestamp, Vec<String>)>> {
    let row = q::<B>("SELECT verified_at, methods FROM session_reauth WHERE session_id = $1")
        .bind(session.0.clone())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((B::ts(&r, 0)?, json_parse(&B::col::<String>(&r, 1)?)?)))
        .transpose()
}

macro_rules! ceremony_cols {
    () => {
        "key_hash, user_id, purpose, binding, state, created_at, expires_at"
    };
}

pub(crate) async fn insert_ceremony<B: Backend>(
    conn: &mut B::Conn,
    c: WebauthnCeremonyRecord,
) -> StoreResult<()> {
    q::<B>(
        "INSERT INTO webauthn_ceremonies \
         (key_hash, user_id, purpose, binding, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.key_hash)
    .bind(c.user_id.map(|u| u.0))
    .bind(c.purpose)
    .bind(c.binding)
    .bind(json_text(&c.state)?)
    .bind_ts(c.created_at)
    .bind_ts(c.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the ceremony and returns it when it had not expired by `now` (single use).
pub(crate) async fn take_ceremony<B: Backend>(
    conn: &mut B::Conn,
    key_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<WebauthnCeremonyRecord>> {
    let row = q::<B>(concat!(
        "DELETE FROM webauthn_ceremonies WHERE key_hash = $1 RETURNING ",
        ceremony_cols!()
    ))
    .bind(key_hash.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let user: Option<uuid::Uuid> = B::col(&r, 1)?;
    let c = WebauthnCeremonyRecord {
        key_hash: B::col(&r, 0)?,
        user_id: user.map(UserId),
        purpose: B::col(&r, 2)?,
        binding: B::col(&r, 3)?,
        state: json_parse(&B::col::<String>(&r, 4)?)?,
        created_at: B::ts(&r, 5)?,
        expires_at: B::ts(&r, 6)?,
    };
    Ok((c.expires_at > now).then_some(c))
}
