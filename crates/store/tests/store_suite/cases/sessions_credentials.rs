//! Sessions, credentials (API keys, persistent tokens) and their concurrency rules.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

pub async fn sessions_lifecycle(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let mut proxy = session("p", u.id, o, t(100));
    proxy.kind = SessionKind::Proxy;
    proxy.actor_id = Some(u.id);
    proxy.amr = vec!["pwd".into(), "mfa".into()];
    s.create_session(proxy.clone()).await.unwrap();
    assert_eq!(s.get_session(&proxy.id).await.unwrap(), Some(proxy.clone()));
    assert!(matches!(
        s.create_session(proxy.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.create_session(session("q", UserId::new(), o, t(100))).await,
        Err(StoreError::NotFound(m)) if m == "unknown user"
    ));
    let mut s2 = session("s2", u.id, o, t(100));
    s2.created_at = t(1);
    s.create_session(s2.clone()).await.unwrap();
    s.create_session(session("old", u.id, o, t(2)))
        .await
        .unwrap();
    let live = s.list_user_sessions(u.id, false, t(10)).await.unwrap();
    assert_eq!(
        live.iter().map(|x| x.id.0.as_str()).collect::<Vec<_>>(),
        vec!["s2", "p"]
    );
    assert_eq!(
        s.list_user_sessions(u.id, true, t(10)).await.unwrap().len(),
        3
    );

    s.touch_session(&s2.id, t(7)).await.unwrap();
    s.touch_session(&s2.id, t(6)).await.unwrap(); // never goes back
    assert_eq!(
        s.get_session(&s2.id).await.unwrap().unwrap().last_seen_at,
        t(7)
    );

    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert!(s.revoke_session(&s2.id, t(8)).await.unwrap());
    assert!(!s.revoke_session(&s2.id, t(9)).await.unwrap());
    assert!(
        !s.revoke_session(&SessionId("old".into()), t(9))
            .await
            .unwrap()
    ); // expired
    let ev = s.revocation_events_since(seq, 10).await.unwrap();
    assert_eq!(
        ev.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
        vec![RevocationEvent::Session(s2.id.clone())]
    );

    s.create_session(session("s3", u.id, o, t(100)))
        .await
        .unwrap();
    let n = s
        .revoke_user_sessions(u.id, Some(&proxy.id), t(9))
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        s.get_session(&proxy.id)
            .await
            .unwrap()
            .unwrap()
            .is_live(t(9))
    );
    assert_eq!(s.revoke_user_sessions(u.id, None, t(9)).await.unwrap(), 1);
    assert!(
        s.list_user_sessions(u.id, false, t(10))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn credentials_by_hash_and_listing(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let o2 = org(&*s, "other").await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let v = member(&*s, "v@x.io", o, &[]).await;
    let k1 = credential(u.id, o, CredentialKind::ApiKey, 1, t(1));
    let mut k2 = credential(u.id, o, CredentialKind::ApiKey, 2, t(2));
    k2.expires_at = Some(t(5));
    let k3 = credential(v.id, o, CredentialKind::ApiKey, 3, t(3));
    let k4 = credential(u.id, o2, CredentialKind::Persistent, 4, t(4));
    for k in [&k1, &k2, &k3, &k4] {
        s.create_credential(k.clone(), None).await.unwrap();
    }
    assert_eq!(
        s.find_credential_by_hash(&[2; 32]).await.unwrap(),
        Some(k2.clone())
    );
    assert_eq!(s.find_credential_by_hash(&[9; 32]).await.unwrap(), None);
    // The exchange read: the credential with its user's membership in its org, if any.
    let (c, m) = s
        .find_credential_with_membership(&[2; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c, k2);
    assert_eq!(m, s.get_membership(u.id, o).await.unwrap());
    assert!(m.is_some());
    let (c, m) = s
        .find_credential_with_membership(&[4; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c, m), (k4.clone(), None), "u is no member of `other`");
    assert_eq!(
        s.find_credential_with_membership(&[9; 32]).await.unwrap(),
        None
    );
    let dup = credential(v.id, o, CredentialKind::ApiKey, 1, t(9));
    assert!(matches!(
        s.create_credential(dup, None).await,
        Err(StoreError::Conflict(m)) if m == "credential secret already in use"
    ));
    assert!(matches!(
        s.create_credential(credential(UserId::new(), o, CredentialKind::ApiKey, 7, t(1)), None).await,
        Err(StoreError::NotFound(m)) if m == "unknown user"
    ));

    let ids = |v: Vec<Credential>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let all = s
        .list_credentials(
            &CredentialFilter {
                include_revoked: true,
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(ids(all), vec![k4.id, k3.id, k2.id, k1.id]);
    let f = CredentialFilter {
        user_id: Some(u.id),
        org_id: Some(o),
        ..Default::default()
    };
    assert_eq!(
        ids(s.list_credentials(&f, 0, 10).await.unwrap()),
        vec![k2.id, k1.id]
    );
    assert_eq!(
        ids(s.list_credentials(&f, 1, 10).await.unwrap()),
        vec![k1.id]
    );
    let f_unexpired = CredentialFilter {
        exclude_expired_at: Some(t(5)),
        ..f.clone()
    };
    assert_eq!(
        ids(s.list_credentials(&f_unexpired, 0, 10).await.unwrap()),
        vec![k1.id]
    );
    let f_kind = CredentialFilter {
        kind: Some(CredentialKind::Persistent),
        ..Default::default()
    };
    assert_eq!(
        ids(s.list_credentials(&f_kind, 0, 10).await.unwrap()),
        vec![k4.id]
    );

    assert!(s.revoke_credential(k1.id, Some(v.id), t(6)).await.unwrap());
    assert!(!s.revoke_credential(k1.id, Some(v.id), t(7)).await.unwrap());
    let r = s.get_credential(k1.id).await.unwrap().unwrap();
    assert_eq!((r.revoked_at, r.revoked_by), (Some(t(6)), Some(v.id)));
    assert_eq!(
        ids(s.list_credentials(&f, 0, 10).await.unwrap()),
        vec![k2.id]
    );
    let with_revoked = CredentialFilter {
        include_revoked: true,
        ..f
    };
    assert_eq!(
        s.list_credentials(&with_revoked, 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn replace_persistent_revokes_previous(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let other = org(&*s, "other").await;
    let admin = member(&*s, "admin@x.io", o, &[Role::Admin]).await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let outsider = member(&*s, "out@x.io", other, &[]).await;
    let mut p1 = credential(u.id, o, CredentialKind::Persistent, 1, t(1));
    p1.creator_id = admin.id;
    s.create_credential(p1.clone(), Some(admin.id))
        .await
        .unwrap();
    let api = credential(u.id, o, CredentialKind::ApiKey, 2, t(1));
    s.create_credential(api.clone(), None).await.unwrap();
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let mut p2 = credential(u.id, o, CredentialKind::Persistent, 3, t(5));
    p2.creator_id = admin.id;
    s.create_credential(p2.clone(), Some(admin.id))
        .await
        .unwrap();
    let old = s.get_credential(p1.id).await.unwrap().unwrap();
    assert_eq!(
        (old.revoked_at, old.revoked_by),
        (Some(t(5)), Some(admin.id))
    );
    assert!(
        s.get_credential(api.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        s.get_credential(p2.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let ev = s.revocation_events_since(seq, 10).await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].1, RevocationEvent::Credential(p1.id));

    // A failing insert leaves the previous token alive.
    let mut clash = credential(u.id, o, CredentialKind::Persistent, 2, t(6));
    clash.creator_id = admin.id;
    assert!(matches!(
        s.create_credential(clash, Some(admin.id)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.get_credential(p2.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );

    let op = credential(outsider.id, other, CredentialKind::Persistent, 9, t(7));
    s.create_credential(op, None).await.unwrap();
    let listed = s
        .persistent_credentials_for(o, &[u.id, outsider.id, u.id])
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|c| c.credential.id).collect::<Vec<_>>(),
        vec![p2.id, p1.id]
    );
    assert_eq!(listed[1].user.as_ref().map(|x| x.id), Some(u.id));
    assert_eq!(listed[1].creator.as_ref().map(|x| x.id), Some(admin.id));
    assert_eq!(listed[1].revoker.as_ref().map(|x| x.id), Some(admin.id));
    assert!(listed[0].revoker.is_none());
    assert!(
        s.persistent_credentials_for(o, &[])
            .await
            .unwrap()
            .is_empty()
    );
    // Removed members still count ("are or were").
    remove_member(&*s, u.id, o, t(8)).await.unwrap();
    assert_eq!(
        s.persistent_credentials_for(o, &[u.id])
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn api_keys_capped_per_user_under_concurrency(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    // Expired and revoked keys, and persistent tokens, take no place.
    let mut expired = credential(u.id, o, CredentialKind::ApiKey, 1, t(1));
    expired.expires_at = Some(t(2));
    let mut revoked = credential(u.id, o, CredentialKind::ApiKey, 2, t(1));
    revoked.revoked_at = Some(t(1));
    revoked.revoked_by = Some(u.id);
    let persistent = credential(u.id, o, CredentialKind::Persistent, 3, t(1));
    for c in [expired, revoked, persistent] {
        s.create_credential(c, None).await.unwrap();
    }
    // Ten creations race for three places: exactly three win, and the others write nothing.
    let racers: Vec<_> = (0..10u8)
        .map(|i| {
            let s = s.clone();
            let c = credential(u.id, o, CredentialKind::ApiKey, 10 + i, t(10));
            tokio::spawn(async move { s.create_api_key_capped(c, 3).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 3);
    let mut stored = 0;
    for i in 0..10u8 {
        stored += usize::from(
            s.find_credential_by_hash(&[10 + i; 32])
                .await
                .unwrap()
                .is_some(),
        );
    }
    assert_eq!(stored, 3);
    // Another user has places of their own.
    let v = member(&*s, "v@x.io", o, &[]).await;
    let c = credential(v.id, o, CredentialKind::ApiKey, 30, t(10));
    assert!(s.create_api_key_capped(c, 3).await.unwrap());
}

pub async fn persistent_credentials_listed_in_their_org_only(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "acme").await;
    let b = org(&*s, "beta").await;
    let u = member(&*s, "u@x.io", a, &[]).await;
    s.upsert_membership(u.id, b, BTreeSet::new(), MembershipKind::Member)
        .await
        .unwrap();
    let in_a = credential(u.id, a, CredentialKind::Persistent, 1, t(1));
    s.create_credential(in_a.clone(), Some(u.id)).await.unwrap();
    // A member of both orgs: beta's list leaves out the token issued in acme.
    assert!(
        s.persistent_credentials_for(b, &[u.id])
            .await
            .unwrap()
            .is_empty()
    );
    let listed = s.persistent_credentials_for(a, &[u.id]).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.credential.id).collect::<Vec<_>>(),
        vec![in_a.id]
    );
}
