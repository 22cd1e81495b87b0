//! What a team token and an org switch read and write (issue 21): the org with the caller's
//! membership in one statement, org events for every change the read cache keeps, coalesced
//! last-login times that only move forward.

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;
use serde_json::json;

use crate::common::*;

async fn last_seq(s: &dyn Store) -> i64 {
    let events = s.revocation_events_since(0, 100_000).await.unwrap();
    events.last().map_or(0, |(seq, _)| *seq)
}

async fn events_after(s: &dyn Store, seq: i64) -> Vec<RevocationEvent> {
    let events = s.revocation_events_since(seq, 1000).await.unwrap();
    events.into_iter().map(|(_, e)| e).collect()
}

pub async fn org_changes_are_announced(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let u = member(&*s, "u@x.io", o, &[Role::Admin]).await;
    let seq = last_seq(&*s).await;
    let setting = json!({"type": "bool", "value": true});
    s.update_org_settings(o, &[("a".into(), Some(setting))], 10)
        .await
        .unwrap();
    s.set_org_priorities(o, None).await.unwrap();
    s.set_job_permissions(o, Role::Admin, Some(JobPermissions::all()))
        .await
        .unwrap();
    s.update_org(
        o,
        OrgUpdate {
            display_name: Some(Some("Acme".into())),
            ..OrgUpdate::default()
        },
    )
    .await
    .unwrap();
    s.put_settings(
        SettingsScope::Org(o),
        SettingsNamespace::Parsable,
        json!({}),
    )
    .await
    .unwrap();
    s.upsert_region(region("eu")).await.unwrap();
    let ev = events_after(&*s, seq).await;
    assert_eq!(
        ev,
        vec![RevocationEvent::Org(o); 6],
        "one per change: {ev:?}"
    );
    let seq = last_seq(&*s).await;
    s.put_settings(
        SettingsScope::User(u.id),
        SettingsNamespace::Parsable,
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(
        events_after(&*s, seq).await,
        vec![RevocationEvent::User(u.id)]
    );
}

pub async fn org_membership_in_one_read_and_last_logins_move_forward(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let other = org(&*s, "beta").await;
    let u = member(&*s, "u@x.io", o, &[Role::Admin]).await;
    let (org_row, m) = s.get_org_membership(u.id, o).await.unwrap().unwrap();
    assert_eq!(Some(org_row), s.get_org(o).await.unwrap());
    assert_eq!(m, s.get_membership(u.id, o).await.unwrap());
    assert!(m.is_some());
    let (org_row, m) = s.get_org_membership(u.id, other).await.unwrap().unwrap();
    assert_eq!(org_row.id, other);
    assert_eq!(m, None, "not a member");
    assert_eq!(
        s.get_org_membership(u.id, OrgId::new()).await.unwrap(),
        None
    );
    // Coalesced last logins: forward only; unknown memberships are skipped.
    s.record_last_logins(&[(u.id, o, t(20)), (u.id, other, t(20))])
        .await
        .unwrap();
    let at = |m: Option<Membership>| m.and_then(|m| m.last_login_at);
    assert_eq!(at(s.get_membership(u.id, o).await.unwrap()), Some(t(20)));
    s.record_last_logins(&[(u.id, o, t(10))]).await.unwrap();
    assert_eq!(at(s.get_membership(u.id, o).await.unwrap()), Some(t(20)));
    s.record_last_logins(&[(u.id, o, t(30))]).await.unwrap();
    assert_eq!(at(s.get_membership(u.id, o).await.unwrap()), Some(t(30)));
    s.record_last_logins(&[]).await.unwrap();
}
