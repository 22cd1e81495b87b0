//! Users, orgs and regions, memberships, preregistration and invitations, deactivation.

use std::collections::BTreeSet;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

pub async fn users_email_unique_in_any_case(db: DbStore) {
    let s = dyn_store(&db);
    let u = s.create_user(new_user("Alice@Example.com")).await.unwrap();
    assert_eq!(u.email, "Alice@Example.com");
    assert!(!u.deactivated && !u.super_admin && !u.password_reset_required);
    assert_eq!(u.validated_at, Some(t(0)));
    match s.create_user(new_user("alice@EXAMPLE.COM")).await {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "email already in use"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.list_users(0, 100).await.unwrap().len(), 1);
    let found = s.get_user_by_email(" ALICE@example.com ").await.unwrap();
    assert_eq!(found.as_ref().map(|f| f.id), Some(u.id));
    assert_eq!(s.get_user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(s.get_user(UserId::new()).await.unwrap(), None);
    assert!(
        s.get_user_by_email("bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn users_update_and_list(db: DbStore) {
    let s = dyn_store(&db);
    let b = s.create_user(new_user("b@x.io")).await.unwrap();
    let a = s.create_user(new_user("A@x.io")).await.unwrap();
    let c = s.create_user(new_user("c@x.io")).await.unwrap();
    let listed: Vec<UserId> = s
        .list_users(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(listed, vec![a.id, b.id, c.id]);
    let page: Vec<UserId> = s
        .list_users(1, 1)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(page, vec![b.id]);
    let got = s
        .get_users(&[c.id, a.id, c.id, UserId::new()])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);

    let updated = s
        .update_user(
            a.id,
            UserUpdate {
                display_name: Some("Ann".into()),
                avatar_url: Some(Some("https://x/a.png".into())),
                password_hash: Some(None),
                validated_at: Some(None),
                super_admin: Some(true),
                password_reset_required: Some(true),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Ann");
    assert_eq!(updated.avatar_url.as_deref(), Some("https://x/a.png"));
    assert_eq!(updated.password_hash, None);
    assert_eq!(updated.validated_at, None);
    assert!(updated.super_admin && updated.password_reset_required);
    assert_eq!(updated.email, a.email);
    assert!(updated.updated_at >= a.updated_at);
    // An empty patch changes nothing but the update time.
    let same = s.update_user(a.id, UserUpdate::default()).await.unwrap();
    assert_eq!(same.display_name, "Ann");
    assert_eq!(same.avatar_url, updated.avatar_url);
    assert!(matches!(
        s.update_user(UserId::new(), UserUpdate::default()).await,
        Err(StoreError::NotFound(m)) if m == "unknown user"
    ));
}

pub async fn orgs_regions_and_memberships(db: DbStore) {
    let s = dyn_store(&db);
    let r = s.upsert_region(region("eu")).await.unwrap();
    let mut r2 = r.clone();
    r2.api_host = "api2.eu.example".into();
    assert_eq!(s.upsert_region(r2.clone()).await.unwrap(), r2);
    assert_eq!(s.get_region("eu").await.unwrap(), Some(r2));
    assert_eq!(s.list_regions().await.unwrap().len(), 1);
    assert!(matches!(
        s.create_org(NewOrg { name: "x".into(), display_name: None, region_id: "mars".into() }).await,
        Err(StoreError::NotFound(m)) if m == "unknown region"
    ));
    let o = org(&*s, "acme").await;
    assert!(matches!(
        s.create_org(NewOrg { name: "acme".into(), display_name: None, region_id: "eu".into() }).await,
        Err(StoreError::Conflict(m)) if m == "org name already in use"
    ));
    assert_eq!(
        s.get_org_by_name("acme").await.unwrap().map(|o| o.id),
        Some(o)
    );
    assert_eq!(s.list_orgs().await.unwrap().len(), 1);
    let ws = s.create_workspace(o, "main", None).await.unwrap();
    let upd = s
        .update_org(
            o,
            OrgUpdate {
                display_name: Some(None),
                region_id: None,
                default_workspace: Some(Some(ws.id)),
            },
        )
        .await
        .unwrap();
    assert_eq!(upd.display_name, None);
    assert!(!upd.disabled);
    assert_eq!(upd.default_workspace, Some(ws.id));
    assert!(matches!(
        s.update_org(o, OrgUpdate { region_id: Some("mars".into()), ..Default::default() }).await,
        Err(StoreError::NotFound(m)) if m == "unknown region"
    ));
    assert!(matches!(
        s.update_org(OrgId::new(), OrgUpdate::default()).await,
        Err(StoreError::NotFound(m)) if m == "unknown org"
    ));

    let u = s.create_user(new_user("m@x.io")).await.unwrap();
    assert!(matches!(
        s.upsert_membership(UserId::new(), o, roles(&[]), MembershipKind::Member).await,
        Err(StoreError::NotFound(m)) if m == "unknown user"
    ));
    assert!(matches!(
        s.upsert_membership(u.id, OrgId::new(), roles(&[]), MembershipKind::Member).await,
        Err(StoreError::NotFound(m)) if m == "unknown org"
    ));
    let m = s
        .upsert_membership(
            u.id,
            o,
            roles(&[Role::Author, Role::Admin]),
            MembershipKind::Guest,
        )
        .await
        .unwrap();
    assert_eq!(m.roles, roles(&[Role::Admin, Role::Author]));
    assert_eq!(m.kind, MembershipKind::Guest);
    assert!(m.is_active());
    assert_eq!(s.get_membership(u.id, o).await.unwrap(), Some(m.clone()));
    s.touch_last_login(u.id, o, t(5)).await.unwrap();
    assert!(matches!(
        s.touch_last_login(UserId::new(), o, t(5)).await,
        Err(StoreError::NotFound(_))
    ));
    // Removal is a plain data write: the flag and its instant, nothing else.
    let mut tx = s.begin_write().await.unwrap();
    tx.mark_membership_removed(u.id, o, t(10)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        s.list_user_memberships(u.id, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.list_org_memberships(o, false).await.unwrap().is_empty());
    let removed = s.list_user_memberships(u.id, true).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].removed_at, Some(t(10)));
    assert_eq!(removed[0].last_login_at, Some(t(5)));
    // Upsert revives it.
    let back = s
        .upsert_membership(u.id, o, roles(&[Role::Executor]), MembershipKind::Member)
        .await
        .unwrap();
    assert_eq!(back.removed_at, None);
    assert_eq!(back.roles, roles(&[Role::Executor]));
    assert_eq!(back.created_at, m.created_at);
    assert_eq!(s.list_org_memberships(o, false).await.unwrap().len(), 1);
    let mut tx = s.begin_write().await.unwrap();
    assert!(matches!(
        tx.mark_membership_removed(UserId::new(), o, t(1)).await,
        Err(StoreError::NotFound(_))
    ));
}

fn terms(by: Option<UserId>, expires_at: Timestamp) -> PreregisterTerms {
    PreregisterTerms {
        roles: BTreeSet::new(),
        kind: MembershipKind::Member,
        invited_by: by,
        expires_at,
    }
}

fn created(out: &[Preregistered]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Preregistered::Created(u) => Some(u.email.as_str()),
            _ => None,
        })
        .collect()
}

pub async fn preregister_invites_existing_accounts(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let admin = member(&*s, "admin@x.io", o, &[Role::Admin]).await;
    let old = s.create_user(new_user("old@x.io")).await.unwrap();
    use chrono::SubsecRound;
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let out = s
        .preregister_users(
            o,
            vec![
                new_user("OLD@x.io"),
                new_user("new1@x.io"),
                new_user("New1@X.io"),
                new_user("new2@x.io"),
            ],
            &terms(Some(admin.id), later),
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(created(&out), vec!["new1@x.io", "new2@x.io"]);
    assert_eq!(out[2], Preregistered::AlreadyInOrg);
    // The existing account is invited, not made a member.
    let Preregistered::Invited(inv) = &out[0] else {
        panic!("expected an invitation, got {:?}", out[0]);
    };
    assert_eq!((inv.org_id, inv.user_id), (o, old.id));
    assert_eq!(inv.invited_by, Some(admin.id));
    assert_eq!(inv.expires_at, later.trunc_subsecs(6));
    assert!(inv.accepted_at.is_none() && inv.revoked_at.is_none());
    assert_eq!(
        s.get_invitation(o, old.id).await.unwrap().as_ref(),
        Some(inv)
    );
    assert!(s.get_membership(old.id, o).await.unwrap().is_none());
    let members = s.list_org_memberships(o, false).await.unwrap();
    assert_eq!(members.len(), 3);
    assert!(s.revocation_events_since(seq, 10).await.unwrap().is_empty());
    // Again: one invitation per (org, user), renewed; members are skipped.
    let out = s
        .preregister_users(
            o,
            vec![new_user("old@x.io"), new_user("new1@x.io")],
            &terms(None, later),
        )
        .await
        .unwrap();
    assert!(matches!(&out[0], Preregistered::Invited(i) if i.invited_by.is_none()));
    assert_eq!(out[1], Preregistered::AlreadyInOrg);
    // A removed member is invited back, not restored.
    let new1 = s.get_user_by_email("new1@x.io").await.unwrap().unwrap();
    remove_member(&*s, new1.id, o, t(5)).await.unwrap();
    let out = s
        .preregister_users(o, vec![new_user("new1@x.io")], &terms(None, later))
        .await
        .unwrap();
    assert!(matches!(&out[0], Preregistered::Invited(i) if i.user_id == new1.id));
    let m = s.get_membership(new1.id, o).await.unwrap().unwrap();
    assert!(m.removed_at.is_some());
    assert!(matches!(
        s.preregister_users(OrgId::new(), vec![new_user("z@x.io")], &terms(None, later))
            .await,
        Err(StoreError::NotFound(m)) if m == "unknown org"
    ));
    assert!(s.get_user_by_email("z@x.io").await.unwrap().is_none());
}

pub async fn invitations_accepted_once_at_sign_in(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "acme").await;
    let b = org(&*s, "beta").await;
    let c = org(&*s, "gamma").await;
    let u = member(&*s, "u@x.io", b, &[]).await;
    let now = chrono::Utc::now();
    let soon = now + chrono::Duration::days(30);
    let guest = PreregisterTerms {
        roles: roles(&[Role::Author]),
        kind: MembershipKind::Guest,
        invited_by: None,
        expires_at: soon,
    };
    s.preregister_users(a, vec![new_user("u@x.io")], &guest)
        .await
        .unwrap();
    // Expires before the sign-in below.
    s.preregister_users(c, vec![new_user("u@x.io")], &terms(None, now))
        .await
        .unwrap();
    // No invitation: nothing happens, no event.
    let other = s.create_user(new_user("o@x.io")).await.unwrap();
    assert!(
        s.accept_invitations(other.id, now)
            .await
            .unwrap()
            .is_empty()
    );
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let accepted = s
        .accept_invitations(u.id, now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].org_id, a);
    assert!(accepted[0].accepted_at.is_some());
    let m = s.get_membership(u.id, a).await.unwrap().unwrap();
    assert!(m.is_active());
    assert_eq!(
        (m.kind, m.roles),
        (MembershipKind::Guest, roles(&[Role::Author]))
    );
    assert!(s.get_membership(u.id, c).await.unwrap().is_none());
    let ev = s.revocation_events_since(seq, 10).await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].1, RevocationEvent::User(u.id));
    // Accepted once: a second sign-in changes nothing.
    assert!(s.accept_invitations(u.id, now).await.unwrap().is_empty());
    let stored = s.get_invitation(a, u.id).await.unwrap().unwrap();
    assert_eq!(stored.accepted_at, accepted[0].accepted_at);
    // An invitation to an org the user joined meanwhile keeps that membership as it is.
    remove_member(&*s, u.id, b, t(5)).await.unwrap();
    s.preregister_users(b, vec![new_user("u@x.io")], &terms(None, soon))
        .await
        .unwrap();
    s.upsert_membership(u.id, b, roles(&[Role::Admin]), MembershipKind::Member)
        .await
        .unwrap();
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let accepted = s.accept_invitations(u.id, now).await.unwrap();
    assert_eq!(accepted.len(), 1);
    let m = s.get_membership(u.id, b).await.unwrap().unwrap();
    assert_eq!(m.roles, roles(&[Role::Admin]));
    assert!(s.revocation_events_since(seq, 10).await.unwrap().is_empty());
    // Removal from the org revokes a pending invitation there: the next sign-in does not
    // bring the user back.
    let d = org(&*s, "delta").await;
    s.preregister_users(d, vec![new_user("u@x.io")], &terms(None, soon))
        .await
        .unwrap();
    s.upsert_membership(u.id, d, BTreeSet::new(), MembershipKind::Member)
        .await
        .unwrap();
    remove_member(&*s, u.id, d, now).await.unwrap();
    let inv = s.get_invitation(d, u.id).await.unwrap().unwrap();
    assert!(inv.revoked_at.is_some() && inv.accepted_at.is_none());
    assert!(!inv.is_pending(now));
    assert!(s.accept_invitations(u.id, now).await.unwrap().is_empty());
    let m = s.get_membership(u.id, d).await.unwrap().unwrap();
    assert!(m.removed_at.is_some());
}

pub async fn deactivation_is_atomic_with_events(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "a").await;
    let b = org(&*s, "b").await;
    let u = member(&*s, "u@x.io", a, &[Role::Author]).await;
    let admin = member(&*s, "admin@x.io", a, &[Role::Admin]).await;
    s.upsert_membership(u.id, b, roles(&[]), MembershipKind::Member)
        .await
        .unwrap();
    s.create_session(session("sa1", u.id, a, t(1000)))
        .await
        .unwrap();
    s.create_session(session("sa2", u.id, a, t(1000)))
        .await
        .unwrap();
    s.create_session(session("sa-expired", u.id, a, t(5)))
        .await
        .unwrap();
    s.create_session(session("sb1", u.id, b, t(1000)))
        .await
        .unwrap();
    let ka = credential(u.id, a, CredentialKind::ApiKey, 1, t(1));
    let kb = credential(u.id, b, CredentialKind::ApiKey, 2, t(1));
    s.create_credential(ka.clone(), None).await.unwrap();
    s.create_credential(kb.clone(), None).await.unwrap();
    let before = s.revocation_snapshot(t(10)).await.unwrap().seq;

    let d = deactivate_member(&*s, u.id, a, Some(admin.id), t(10))
        .await
        .unwrap();
    assert_eq!(
        d,
        Deactivation {
            sessions_revoked: 2,
            credentials_revoked: 1
        }
    );
    let m = s.get_membership(u.id, a).await.unwrap().unwrap();
    assert!(m.deactivated && !m.is_active());
    let sa1 = s
        .get_session(&SessionId("sa1".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sa1.revoked_at, Some(t(10)));
    assert!(
        s.get_session(&SessionId("sb1".into()))
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let ka_now = s.get_credential(ka.id).await.unwrap().unwrap();
    assert_eq!(ka_now.revoked_by, Some(admin.id));
    assert!(
        s.get_credential(kb.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let events = s.revocation_events_since(before, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, RevocationEvent::User(u.id));

    let st = s.user_revocation_state(u.id, t(11)).await.unwrap();
    assert!(st.exists && !st.deactivated);
    assert_eq!(st.deactivated_orgs, [a].into_iter().collect());
    let revoked: BTreeSet<&str> = st
        .revoked_sessions
        .iter()
        .map(|(id, _)| id.0.as_str())
        .collect();
    assert_eq!(revoked, ["sa1", "sa2"].into_iter().collect());
    assert_eq!(st.revoked_credentials, vec![ka.id]);

    // Idempotent: nothing more to revoke in that org.
    let again = deactivate_member(&*s, u.id, a, Some(admin.id), t(12))
        .await
        .unwrap();
    assert_eq!(again, Deactivation::default());
    s.reactivate_membership(u.id, a).await.unwrap();
    assert!(
        !s.get_membership(u.id, a)
            .await
            .unwrap()
            .unwrap()
            .deactivated
    );
    assert!(
        s.get_credential(ka.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    let d = deactivate_user(&*s, u.id, t(20)).await.unwrap();
    assert_eq!(
        d,
        Deactivation {
            sessions_revoked: 1,
            credentials_revoked: 1
        }
    );
    assert!(s.get_user(u.id).await.unwrap().unwrap().deactivated);
    let st = s.user_revocation_state(u.id, t(21)).await.unwrap();
    assert!(st.deactivated);
    assert_eq!(st.revoked_sessions.len(), 3);
    assert_eq!(st.revoked_credentials.len(), 2);
    let events = s.revocation_events_since(before, 100).await.unwrap();
    assert_eq!(events.len(), 4); // deactivate, (idempotent) deactivate, reactivate, deactivate user
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    s.reactivate_user(u.id).await.unwrap();
    assert!(!s.get_user(u.id).await.unwrap().unwrap().deactivated);
    assert!(matches!(
        deactivate_user(&*s, UserId::new(), t(1)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        deactivate_member(&*s, admin.id, b, None, t(1)).await,
        Err(StoreError::NotFound(m)) if m == "unknown membership"
    ));
    let missing = s.user_revocation_state(UserId::new(), t(1)).await.unwrap();
    assert_eq!(missing, UserRevocationState::default());
}
