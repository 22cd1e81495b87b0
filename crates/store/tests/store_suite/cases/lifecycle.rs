//! Migrations, token cut-offs on removal and org disable, browser SSO flow state.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

pub async fn migrate_twice_is_noop(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("keep@x.io")).await.unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    s.ping().await.unwrap();
    assert_eq!(s.get_user(u.id).await.unwrap(), Some(u));
    assert!(!s.backend().is_empty());
}

pub async fn removal_and_org_disable_cut_off_tokens(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let other = org(&*s, "other").await;
    let u = s.create_user(new_user("ann@x.io")).await.unwrap();
    let v = s.create_user(new_user("bob@x.io")).await.unwrap();
    for (user, org) in [(u.id, o), (u.id, other), (v.id, o)] {
        s.upsert_membership(user, org, BTreeSet::new(), MembershipKind::Member)
            .await
            .unwrap();
    }
    let fresh = s.user_revocation_state(u.id, t(0)).await.unwrap();
    assert!(fresh.deactivated_orgs.is_empty() && fresh.org_cutoffs.is_empty());

    // A removal: the membership counts as inactive and gets a cut-off, which outlives
    // the membership being added back.
    remove_member(&*s, u.id, o, t(10)).await.unwrap();
    let st = s.user_revocation_state(u.id, t(0)).await.unwrap();
    assert_eq!(st.deactivated_orgs, BTreeSet::from([o]));
    assert_eq!(st.org_cutoffs.get(&o), Some(&t(10)));
    assert!(!st.org_cutoffs.contains_key(&other));
    s.upsert_membership(u.id, o, BTreeSet::new(), MembershipKind::Member)
        .await
        .unwrap();
    let st = s.user_revocation_state(u.id, t(0)).await.unwrap();
    assert!(st.deactivated_orgs.is_empty());
    assert_eq!(st.org_cutoffs.get(&o), Some(&t(10)));

    // A deactivation sets the cut-off too.
    deactivate_member(&*s, v.id, o, None, t(20)).await.unwrap();
    s.reactivate_membership(v.id, o).await.unwrap();
    let st = s.user_revocation_state(v.id, t(0)).await.unwrap();
    assert_eq!(st.org_cutoffs.get(&o), Some(&t(20)));

    // Disabling an org: flag, cut-off and an org event in the same transaction.
    let before = s.revocation_snapshot(t(0)).await.unwrap();
    assert!(before.disabled_orgs.is_empty() && before.org_cutoffs.is_empty());
    assert!(before.membership_cutoffs.contains(&(u.id, o, t(10))));
    assert!(before.membership_cutoffs.contains(&(v.id, o, t(20))));
    assert_eq!(
        s.org_revocation_state(o).await.unwrap(),
        OrgRevocationState::default()
    );
    set_org_disabled(&*s, o, true, t(30)).await.unwrap();
    let st = s.org_revocation_state(o).await.unwrap();
    let cut = st.tokens_not_before.expect("a cut-off");
    assert_eq!(cut, t(30));
    assert!(st.disabled);
    let events = s.revocation_events_since(before.seq, 100).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
        vec![RevocationEvent::Org(o)]
    );
    let snap = s.revocation_snapshot(t(0)).await.unwrap();
    assert_eq!(snap.disabled_orgs, vec![o]);
    assert_eq!(snap.org_cutoffs, vec![(o, cut)]);
    // Disabling again keeps the first cut-off; enabling keeps it, clears the flag.
    set_org_disabled(&*s, o, true, t(40)).await.unwrap();
    assert_eq!(
        s.org_revocation_state(o).await.unwrap().tokens_not_before,
        Some(cut)
    );
    set_org_disabled(&*s, o, false, t(50)).await.unwrap();
    let st = s.org_revocation_state(o).await.unwrap();
    assert!(!st.disabled);
    assert_eq!(st.tokens_not_before, Some(cut));
    let snap = s.revocation_snapshot(t(0)).await.unwrap();
    assert!(snap.disabled_orgs.is_empty());
    assert_eq!(snap.org_cutoffs, vec![(o, cut)]);
    // Other updates emit an org event too (read caches re-read the org); an unknown org reads
    // as disabled.
    let seq = snap.seq;
    s.update_org(
        o,
        OrgUpdate {
            display_name: Some(Some("Acme".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ev = s.revocation_events_since(seq, 100).await.unwrap();
    assert_eq!(
        ev.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        vec![RevocationEvent::Org(o)]
    );
    assert!(s.org_revocation_state(OrgId::new()).await.unwrap().disabled);
}

pub async fn sso_flows_single_use_and_expiry(db: DbStore) {
    use portcullis_core::websso::{SsoFlowKind, SsoFlowRecord};
    let s = dyn_store(&db);
    let rec = |key: &str, kind, expires| SsoFlowRecord {
        key_hash: key.into(),
        kind,
        provider: "corp".into(),
        login_hint: Some("a@corp.io".into()),
        nonce: (kind == SsoFlowKind::Callback).then(|| "n".into()),
        pkce_verifier: (kind == SsoFlowKind::Callback).then(|| "v".into()),
        binding_hash: (kind == SsoFlowKind::Callback).then(|| "b".into()),
        created_at: t(0),
        expires_at: t(expires),
    };
    let start = rec("k1", SsoFlowKind::Start, 120);
    s.insert_sso_flow(start.clone()).await.unwrap();
    assert!(matches!(
        s.insert_sso_flow(start.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    // The kind is part of the key: a start token is no state.
    assert_eq!(
        s.take_sso_flow(SsoFlowKind::Callback, "k1", t(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_sso_flow(SsoFlowKind::Start, "k1", t(1))
            .await
            .unwrap(),
        Some(start)
    );
    // Single use.
    assert_eq!(
        s.take_sso_flow(SsoFlowKind::Start, "k1", t(1))
            .await
            .unwrap(),
        None
    );

    let cb = rec("k2", SsoFlowKind::Callback, 600);
    s.insert_sso_flow(cb.clone()).await.unwrap();
    // Expired: gone, and not returned.
    assert_eq!(
        s.take_sso_flow(SsoFlowKind::Callback, "k2", t(600))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_sso_flow(SsoFlowKind::Callback, "k2", t(1))
            .await
            .unwrap(),
        None
    );

    for (k, exp) in [("a", 10), ("b", 20), ("c", 30)] {
        s.insert_sso_flow(rec(k, SsoFlowKind::Start, exp))
            .await
            .unwrap();
    }
    assert_eq!(s.purge_sso_flows(t(20)).await.unwrap(), 2);
    assert!(
        s.take_sso_flow(SsoFlowKind::Start, "c", t(21))
            .await
            .unwrap()
            .is_some()
    );

    // Concurrent takes: exactly one wins.
    s.insert_sso_flow(rec("race", SsoFlowKind::Callback, 600))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.take_sso_flow(SsoFlowKind::Callback, "race", t(1)).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}
