//! Invitations: preregistering emails for an org, and accepting at sign-in.

use portcullis_core::model::*;
use portcullis_core::store::{PreregisterTerms, Preregistered, StoreResult};
use uuid::Uuid;

use super::memberships;
use super::users::{bind_new_user, user_row};
use super::{ensure_org, rows};
use crate::backend::{Backend, q};
use crate::common::*;
use crate::write::Write;

fn invitation_row<B: Backend>(r: &B::Row) -> StoreResult<Invitation> {
    Ok(Invitation {
        org_id: OrgId(B::col(r, 0)?),
        user_id: UserId(B::col(r, 1)?),
        roles: roles_from_text(&B::col::<String>(r, 2)?)?,
        kind: parse(&B::col::<String>(r, 3)?)?,
        invited_by: B::col::<Option<Uuid>>(r, 4)?.map(UserId),
        created_at: B::ts(r, 5)?,
        expires_at: B::ts(r, 6)?,
        accepted_at: B::opt_ts(r, 7)?,
        revoked_at: B::opt_ts(r, 8)?,
    })
}

/// New emails become members on `terms`; existing accounts outside the org are invited.
pub(crate) async fn preregister<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    users: &[NewUser],
    terms: &PreregisterTerms,
) -> StoreResult<Vec<Preregistered>> {
    let at = now();
    ensure_org::<B>(conn, org).await?;
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        // Both paths cost an insert attempt, one look-up and one write, so the time taken says
        // little about which emails had accounts.
        let stmt = q::<B>(concat!(
            "INSERT INTO users (id, email, email_norm, display_name, name_norm, \
             avatar_url, password_hash, validated_at, super_admin, deactivated, \
             password_reset_required, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, FALSE, $10, $10) \
             ON CONFLICT (email_norm) DO NOTHING RETURNING ",
            user_cols!("")
        ));
        if let Some(row) = bind_new_user(stmt, u, at).fetch_optional(conn).await? {
            let user = user_row::<B>(&row)?;
            memberships::put::<B>(conn, user.id, org, &terms.roles, terms.kind, at).await?;
            out.push(Preregistered::Created(user));
            continue;
        }
        // The email is taken: the account is invited unless already in the org. It never joins
        // here; its owner accepts by signing in.
        let existing = q::<B>(
            "SELECT u.id, m.removed_at IS NULL AND m.user_id IS NOT NULL \
             FROM users u LEFT JOIN memberships m ON m.user_id = u.id AND m.org_id = $2 \
             WHERE u.email_norm = $1",
        )
        .bind(normalize_email(&u.email))
        .bind(org.0)
        .fetch_one(conn)
        .await?;
        let user = UserId(B::col(&existing, 0)?);
        if B::col::<bool>(&existing, 1)? {
            out.push(Preregistered::AlreadyInOrg);
            continue;
        }
        let row = q::<B>(concat!(
            "INSERT INTO invitations (org_id, user_id, roles, kind, invited_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET roles = excluded.roles, \
             kind = excluded.kind, invited_by = excluded.invited_by, \
             created_at = excluded.created_at, expires_at = excluded.expires_at, \
             accepted_at = NULL, revoked_at = NULL RETURNING ",
            invitation_cols!()
        ))
        .bind(org.0)
        .bind(user.0)
        .bind(roles_to_text(&terms.roles))
        .bind(terms.kind.as_str())
        .bind(terms.invited_by.map(|i| i.0))
        .bind_ts(at)
        .bind_ts(micros(terms.expires_at))
        .fetch_one(conn)
        .await?;
        out.push(Preregistered::Invited(invitation_row::<B>(&row)?));
    }
    Ok(out)
}

pub(crate) async fn get<B: Backend>(
    conn: &mut B::Conn,
    org: OrgId,
    user: UserId,
) -> StoreResult<Option<Invitation>> {
    q::<B>(concat!(
        "SELECT ",
        invitation_cols!(),
        " FROM invitations WHERE org_id = $1 AND user_id = $2"
    ))
    .bind(org.0)
    .bind(user.0)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(invitation_row::<B>)
    .transpose()
}

/// Whether the user holds an invitation pending at `at` (a read, without the write lock).
pub(crate) async fn any_pending<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    at: Timestamp,
) -> StoreResult<bool> {
    let any = q::<B>(
        "SELECT 1 FROM invitations WHERE user_id = $1 AND accepted_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $2 LIMIT 1",
    )
    .bind(user.0)
    .bind_ts(at)
    .fetch_optional(conn)
    .await?;
    Ok(any.is_some())
}

/// Revokes the user's unanswered invitation to the org, if any; returns how many.
pub(crate) async fn revoke_pending<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
    org: OrgId,
    at: Timestamp,
) -> StoreResult<u64> {
    q::<B>(
        "UPDATE invitations SET revoked_at = $3 WHERE user_id = $1 AND org_id = $2 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(user.0)
    .bind(org.0)
    .bind_ts(at)
    .execute(conn)
    .await
}

/// Accepts the user's invitations pending at `at`, each becoming a membership unless one is
/// present; announces the user when any membership changed.
pub(crate) async fn accept<B: Backend>(
    w: &mut Write<B>,
    user: UserId,
    at: Timestamp,
) -> StoreResult<Vec<Invitation>> {
    // The update claims the rows: of concurrent sign-ins one accepts each invitation.
    let rs = q::<B>(concat!(
        "UPDATE invitations SET accepted_at = $2 WHERE user_id = $1 \
         AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
         RETURNING ",
        invitation_cols!()
    ))
    .bind(user.0)
    .bind_ts(at)
    .fetch_all(w.conn())
    .await?;
    let accepted = rows::<B, _>(rs, invitation_row::<B>)?;
    let mut joined = false;
    for inv in &accepted {
        let present = q::<B>(
            "SELECT 1 FROM memberships WHERE user_id = $1 AND org_id = $2 \
             AND removed_at IS NULL",
        )
        .bind(user.0)
        .bind(inv.org_id.0)
        .fetch_optional(w.conn())
        .await?;
        if present.is_none() {
            memberships::put::<B>(w.conn(), user, inv.org_id, &inv.roles, inv.kind, at).await?;
            joined = true;
        }
    }
    if joined {
        w.announce(RevocationEvent::User(user));
    }
    Ok(accepted)
}
