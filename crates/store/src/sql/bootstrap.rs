//! The first region, org and admin of an empty store.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::StoreResult;

use super::{memberships, orgs, users};
use crate::backend::{Backend, Lock, q};
use crate::common::now;

/// On an empty store only: the region (if missing), the org, the user and an ADMIN membership.
/// `None` when users already exist.
pub(crate) async fn bootstrap<B: Backend>(
    conn: &mut B::Conn,
    region: Region,
    org: &NewOrg,
    admin: &NewUser,
) -> StoreResult<Option<(Org, User)>> {
    let at = now();
    B::lock(conn, Lock::Bootstrap).await?;
    let any = q::<B>("SELECT 1 FROM users LIMIT 1")
        .fetch_optional(conn)
        .await?;
    if any.is_some() {
        return Ok(None);
    }
    orgs::insert_region_if_missing::<B>(conn, region).await?;
    let org = orgs::insert::<B>(conn, org, at).await?;
    let user = users::insert::<B>(conn, admin, at).await?;
    let admin_role: BTreeSet<Role> = [Role::Admin].into_iter().collect();
    memberships::put::<B>(
        conn,
        user.id,
        org.id,
        &admin_role,
        MembershipKind::Member,
        at,
    )
    .await?;
    Ok(Some((org, user)))
}
