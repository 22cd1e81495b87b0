//! External identities (issuer, subject) linked to users, and just-in-time provisioning.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{ensure_org, ensure_user, memberships, rows, users};
use crate::backend::{Backend, q};
use crate::common::now;

fn identity_row<B: Backend>(r: &B::Row) -> StoreResult<ExternalIdentity> {
    Ok(ExternalIdentity {
        issuer: B::col(r, 0)?,
        subject: B::col(r, 1)?,
        user_id: UserId(B::col(r, 2)?),
        provider_alias: B::col(r, 3)?,
        created_at: B::ts(r, 4)?,
    })
}

pub(crate) async fn find<B: Backend>(
    conn: &mut B::Conn,
    issuer: &str,
    subject: &str,
) -> StoreResult<Option<ExternalIdentity>> {
    q::<B>(concat!(
        "SELECT ",
        identity_cols!(),
        " FROM external_identities WHERE issuer = $1 AND subject = $2"
    ))
    .bind(issuer.to_string())
    .bind(subject.to_string())
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(identity_row::<B>)
    .transpose()
}

async fn insert<B: Backend>(
    conn: &mut B::Conn,
    identity: &ExternalIdentity,
    user: UserId,
) -> StoreResult<()> {
    q::<B>(concat!(
        "INSERT INTO external_identities (",
        identity_cols!(),
        ") VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(identity.issuer.clone())
    .bind(identity.subject.clone())
    .bind(user.0)
    .bind(identity.provider_alias.clone())
    .bind_ts(identity.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Checks the user, then links; `Conflict` if (issuer, subject) is taken. Run it in a
/// transaction.
pub(crate) async fn link<B: Backend>(
    conn: &mut B::Conn,
    identity: &ExternalIdentity,
) -> StoreResult<()> {
    ensure_user::<B>(conn, identity.user_id).await?;
    insert::<B>(conn, identity, identity.user_id).await
}

/// The user, the link and the memberships; run it in a transaction.
pub(crate) async fn provision<B: Backend>(
    conn: &mut B::Conn,
    user: &NewUser,
    identity: &ExternalIdentity,
    memberships: &[(OrgId, BTreeSet<Role>, MembershipKind)],
) -> StoreResult<User> {
    let at = now();
    let created = users::insert::<B>(conn, user, at).await?;
    insert::<B>(conn, identity, created.id).await?;
    for (org, roles, kind) in memberships {
        ensure_org::<B>(conn, *org).await?;
        memberships::put::<B>(conn, created.id, *org, roles, *kind, at).await?;
    }
    Ok(created)
}

pub(crate) async fn list_of_user<B: Backend>(
    conn: &mut B::Conn,
    user: UserId,
) -> StoreResult<Vec<ExternalIdentity>> {
    let rs = q::<B>(concat!(
        "SELECT ",
        identity_cols!(),
        " FROM external_identities WHERE user_id = $1 ORDER BY created_at, issuer, subject"
    ))
    .bind(user.0)
    .fetch_all(conn)
    .await?;
    rows::<B, _>(rs, identity_row::<B>)
}
