//! Service accounts of client-credentials clients: one live account per client, its roles,
//! and what the revocation view reads of it (stopped when its client is disabled, deleted or
//! the account retired; its cut-off), through the snapshot, the per-subject state and the feed.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

fn service_client(id: &str, org: OrgId) -> OAuthClient {
    let mut c = oauth_client(id, Some(org), None);
    c.grant_types = BTreeSet::from([GrantType::ClientCredentials]);
    c
}

pub async fn service_accounts_one_live_per_client_with_roles(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "acme").await;
    let b = org(&*s, "beta").await;
    s.create_oauth_client(service_client("job", a))
        .await
        .unwrap();
    s.create_oauth_client(service_client("etl", b))
        .await
        .unwrap();
    assert_eq!(s.get_service_account("job").await.unwrap(), None);

    let first = ServiceAccount::new("job", a, t(1));
    let live = s.ensure_service_account(first.clone()).await.unwrap();
    assert_eq!(live, first);
    // A second ensure (another node racing) keeps the first account.
    let again = s
        .ensure_service_account(ServiceAccount::new("job", a, t(2)))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert!(matches!(
        s.ensure_service_account(ServiceAccount::new("ghost", OrgId::new(), t(1)))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let roles = BTreeSet::from([Role::Executor, Role::Author]);
    let updated = s
        .set_service_account_roles("job", roles.clone(), t(5))
        .await
        .unwrap();
    assert_eq!(updated.roles, roles);
    assert_eq!(updated.updated_at, t(5));
    assert_eq!(updated.created_at, t(1));
    assert!(matches!(
        s.set_service_account_roles("etl", roles.clone(), t(5))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.get_service_account("job").await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(
        s.get_service_account_by_id(first.id).await.unwrap(),
        Some(updated.clone())
    );

    let etl = s
        .ensure_service_account(ServiceAccount::new("etl", b, t(1)))
        .await
        .unwrap();
    let ids = |v: Vec<ServiceAccount>| v.into_iter().map(|a| a.client_id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_service_accounts(None).await.unwrap()),
        ["etl", "job"]
    );
    assert_eq!(
        ids(s.list_service_accounts(Some(b)).await.unwrap()),
        ["etl"]
    );

    // Deleting the client retires its account (kept by id); a new client of that id gets a
    // new one.
    assert!(s.delete_oauth_client("etl", t(9)).await.unwrap());
    assert_eq!(s.get_service_account("etl").await.unwrap(), None);
    let retired = s.get_service_account_by_id(etl.id).await.unwrap().unwrap();
    assert_eq!(retired.retired_at, Some(t(9)));
    assert_eq!(retired.tokens_not_before, Some(t(9)));
    s.create_oauth_client(service_client("etl", b))
        .await
        .unwrap();
    let reborn = s
        .ensure_service_account(ServiceAccount::new("etl", b, t(10)))
        .await
        .unwrap();
    assert_ne!(reborn.id, etl.id);
    assert_eq!(
        ids(s.list_service_accounts(Some(b)).await.unwrap()),
        ["etl"]
    );
}

pub async fn service_accounts_in_the_revocation_view(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "acme").await;
    s.create_oauth_client(service_client("job", a))
        .await
        .unwrap();
    s.create_oauth_client(service_client("etl", a))
        .await
        .unwrap();
    let job = s
        .ensure_service_account(ServiceAccount::new("job", a, t(1)))
        .await
        .unwrap();
    let etl = s
        .ensure_service_account(ServiceAccount::new("etl", a, t(1)))
        .await
        .unwrap();
    let live = s.user_revocation_state(job.id, t(2)).await.unwrap();
    assert!(live.exists && !live.deactivated);
    assert!(live.org_cutoffs.is_empty());
    let snap = s.revocation_snapshot(t(2)).await.unwrap();
    assert!(!snap.deactivated_users.contains(&job.id));

    // Disabling the client stops the account; the announcement (with its cut-off) is an event
    // (after the disabling's own, which empties the nodes' client caches).
    s.set_oauth_client_disabled("job", Some(t(3)))
        .await
        .unwrap();
    let seq = snap.seq;
    let a1 = s
        .announce_service_account("job", Some(t(3)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a1.tokens_not_before, Some(t(3)));
    let events = s.revocation_events_since(seq, 10).await.unwrap();
    assert_eq!(
        events.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        [
            RevocationEvent::Client("job".into()),
            RevocationEvent::User(job.id)
        ]
    );
    let stopped = s.user_revocation_state(job.id, t(4)).await.unwrap();
    assert!(stopped.exists && stopped.deactivated);
    assert_eq!(stopped.org_cutoffs.get(&a), Some(&t(3)));
    let snap = s.revocation_snapshot(t(4)).await.unwrap();
    assert!(snap.deactivated_users.contains(&job.id));
    assert!(!snap.deactivated_users.contains(&etl.id));
    assert!(snap.membership_cutoffs.contains(&(job.id, a, t(3))));

    // Enabled again: live, the cut-off kept (older tokens stay dead); an announcement without
    // a cut-off keeps it.
    s.set_oauth_client_disabled("job", None).await.unwrap();
    s.announce_service_account("job", None).await.unwrap();
    let back = s.user_revocation_state(job.id, t(5)).await.unwrap();
    assert!(!back.deactivated);
    assert_eq!(back.org_cutoffs.get(&a), Some(&t(3)));
    assert_eq!(
        s.announce_service_account("nobody", Some(t(5)))
            .await
            .unwrap(),
        None
    );

    // A deleted client: its account is stopped in the snapshot and the per-subject state.
    s.delete_oauth_client("etl", t(6)).await.unwrap();
    assert!(
        s.user_revocation_state(etl.id, t(7))
            .await
            .unwrap()
            .deactivated
    );
    assert!(
        s.revocation_snapshot(t(7))
            .await
            .unwrap()
            .deactivated_users
            .contains(&etl.id)
    );
    // A subject that is neither a user nor an account reads as gone.
    assert!(
        !s.user_revocation_state(UserId::new(), t(7))
            .await
            .unwrap()
            .exists
    );
}
