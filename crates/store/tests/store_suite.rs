//! The shared store test suite: every case runs against SQLite and against PostgreSQL
//! (the latter when `PORTCULLIS_TEST_POSTGRES_URL` is set).

mod common;

store_tests!(
    users_email_unique_in_any_case,
    users_update_and_list,
    orgs_regions_and_memberships,
    preregister_invites_existing_accounts,
    invitations_accepted_once_at_sign_in,
    deactivation_is_atomic_with_events,
    sessions_lifecycle,
    credentials_by_hash_and_listing,
    replace_persistent_revokes_previous,
    persistent_credentials_listed_in_their_org_only,
    api_keys_capped_per_user_under_concurrency,
    register_resources_all_or_nothing,
    workspaces_and_grants,
    search_org_users_queries,
    search_org_users_sort_and_paging,
    login_activity_order,
    throttle_claim_is_atomic,
    throttle_lock_semantics,
    revocation_snapshot_and_events,
    audit_append_and_filters,
    audit_large_batches_keep_every_event_in_order,
    keys_lifecycle,
    key_revocation_is_atomic_with_event,
    password_reset_codes_are_single_use,
    revoke_user_credentials_everywhere,
    settings_and_job_permissions,
    team_settings_batches_are_atomic,
    team_settings_concurrent_limit,
    team_priorities_replace_and_clear,
    team_less_sessions,
    allowlist_entries,
    external_identities_and_provisioning,
    bootstrap_only_once,
    bootstrap_concurrent_single_winner,
    replace_persistent_concurrent,
    register_resources_concurrent,
    migrate_twice_is_noop,
    removal_and_org_disable_cut_off_tokens,
    sso_flows_single_use_and_expiry,
);

mod cases {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use portcullis_core::model::*;
    use portcullis_core::store::*;
    use portcullis_store::DbStore;
    use serde_json::json;

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
                    deactivated: None,
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
                    disabled: Some(true),
                    default_workspace: Some(Some(ws.id)),
                },
            )
            .await
            .unwrap();
        assert_eq!(upd.display_name, None);
        assert!(upd.disabled);
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
        let d = s.remove_membership(u.id, o, t(10)).await.unwrap();
        assert_eq!(d, Deactivation::default());
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
        assert!(matches!(
            s.remove_membership(UserId::new(), o, t(1)).await,
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
        s.remove_membership(new1.id, o, t(5)).await.unwrap();
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
        s.remove_membership(u.id, b, t(5)).await.unwrap();
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
        s.remove_membership(u.id, d, now).await.unwrap();
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

        let d = s
            .deactivate_membership(u.id, a, Some(admin.id), t(10))
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
        let again = s
            .deactivate_membership(u.id, a, Some(admin.id), t(12))
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

        let d = s.deactivate_user(u.id, t(20)).await.unwrap();
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
            s.deactivate_user(UserId::new(), t(1)).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.deactivate_membership(admin.id, b, None, t(1)).await,
            Err(StoreError::NotFound(m)) if m == "unknown membership"
        ));
        let missing = s.user_revocation_state(UserId::new(), t(1)).await.unwrap();
        assert_eq!(missing, UserRevocationState::default());
    }

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
        s.remove_membership(u.id, o, t(8)).await.unwrap();
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

    pub async fn register_resources_all_or_nothing(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let w1 = s.create_workspace(o, "one", None).await.unwrap();
        let w2 = s.create_workspace(o, "two", None).await.unwrap();
        let rids = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        s.register_resources(w1.id, &rids(&["ri.x.c", "ri.x.a"]))
            .await
            .unwrap();
        s.register_resources(w1.id, &rids(&["ri.x.a", "ri.x.c"]))
            .await
            .unwrap(); // no-op
        match s
            .register_resources(w2.id, &rids(&["ri.x.z", "ri.x.c", "ri.x.b", "ri.x.a"]))
            .await
        {
            Err(StoreError::ResourceConflict { resource, existing }) => {
                assert_eq!(resource, "ri.x.a");
                assert_eq!(existing, w1.id);
            }
            other => panic!("expected a resource conflict, got {other:?}"),
        }
        let map = s
            .resource_workspaces(&rids(&["ri.x.a", "ri.x.b", "ri.x.c", "ri.x.z"]))
            .await
            .unwrap();
        assert_eq!(
            map.len(),
            2,
            "nothing of the failed call was written: {map:?}"
        );
        assert!(map.values().all(|w| *w == w1.id));
        s.register_resources(w2.id, &rids(&["ri.x.b"]))
            .await
            .unwrap();
        assert_eq!(
            s.resource_workspaces(&rids(&["ri.x.b"]))
                .await
                .unwrap()
                .get("ri.x.b"),
            Some(&w2.id)
        );
        s.register_resources(w2.id, &[]).await.unwrap();
        assert!(matches!(
            s.register_resources(WorkspaceId::new(), &rids(&["ri.x.q"])).await,
            Err(StoreError::NotFound(m)) if m == "unknown workspace"
        ));
        assert!(s.resource_workspaces(&[]).await.unwrap().is_empty());
    }

    pub async fn workspaces_and_grants(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let o2 = org(&*s, "other").await;
        let w = s
            .create_workspace(o, "main", Some("Main".into()))
            .await
            .unwrap();
        assert_eq!(w.settings, json!({}));
        assert_eq!(w.symbol, None);
        assert!(matches!(
            s.create_workspace(o, "main", None).await,
            Err(StoreError::Conflict(m)) if m == "workspace slug already in use in this org"
        ));
        s.create_workspace(o2, "main", None).await.unwrap();
        assert!(matches!(
            s.create_workspace(OrgId::new(), "x", None).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));
        s.create_workspace(o, "alpha", None).await.unwrap();
        let slugs: Vec<String> = s
            .list_org_workspaces(o)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.slug)
            .collect();
        assert_eq!(slugs, vec!["alpha", "main"]);
        let patched = s
            .update_workspace(
                w.id,
                WorkspacePatch {
                    display_name: Some(None),
                    symbol: Some(Some(json!({"type": "emoji", "emoji": "x"}))),
                    settings: Some(json!({"a": [1, 2]})),
                },
            )
            .await
            .unwrap();
        assert_eq!(patched.display_name, None);
        assert_eq!(patched.symbol, Some(json!({"type": "emoji", "emoji": "x"})));
        assert_eq!(patched.settings, json!({"a": [1, 2]}));
        let kept = s
            .update_workspace(
                w.id,
                WorkspacePatch {
                    display_name: None,
                    symbol: None,
                    settings: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(kept.symbol, patched.symbol);
        let cleared = s
            .update_workspace(
                w.id,
                WorkspacePatch {
                    display_name: Some(Some("M".into())),
                    symbol: Some(None),
                    settings: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (cleared.display_name.as_deref(), &cleared.symbol),
            (Some("M"), &None)
        );
        assert_eq!(s.get_workspace(w.id).await.unwrap(), Some(cleared));
        assert!(matches!(
            s.update_workspace(
                WorkspaceId::new(),
                WorkspacePatch {
                    display_name: None,
                    symbol: None,
                    settings: None
                }
            )
            .await,
            Err(StoreError::NotFound(_))
        ));

        let u = member(&*s, "u@x.io", o, &[]).await;
        let g = WorkspaceGrant {
            workspace_id: w.id,
            user_id: u.id,
            access: WorkspaceAccess::Guest,
        };
        s.grant_workspace(g.clone()).await.unwrap();
        s.grant_workspace(WorkspaceGrant {
            access: WorkspaceAccess::Full,
            ..g.clone()
        })
        .await
        .unwrap();
        let grants = s.list_user_workspace_grants(u.id).await.unwrap();
        assert_eq!(
            grants,
            vec![WorkspaceGrant {
                access: WorkspaceAccess::Full,
                ..g.clone()
            }]
        );
        assert!(matches!(
            s.grant_workspace(WorkspaceGrant { user_id: UserId::new(), ..g.clone() }).await,
            Err(StoreError::NotFound(m)) if m == "unknown user"
        ));
        assert!(s.revoke_workspace_grant(w.id, u.id).await.unwrap());
        assert!(!s.revoke_workspace_grant(w.id, u.id).await.unwrap());
    }

    async fn search_fixture(s: &dyn Store) -> (OrgId, Vec<User>) {
        let o = org(s, "acme").await;
        let other = org(s, "other").await;
        let mut users = Vec::new();
        for (email, name) in [
            ("carol@example.com", "Carol Ng"),
            ("ALICE@example.com", "alice smith"),
            ("bob@corp.io", "Bob 100%_done"),
            ("dave@corp.io", "Dave"),
        ] {
            let u = s.create_user(named_user(email, name)).await.unwrap();
            s.upsert_membership(u.id, o, roles(&[]), MembershipKind::Member)
                .await
                .unwrap();
            users.push(u);
        }
        // A guest counts; a removed member and a member elsewhere do not.
        let guest = s
            .create_user(named_user("erin@guest.net", "Erin"))
            .await
            .unwrap();
        s.upsert_membership(guest.id, o, roles(&[]), MembershipKind::Guest)
            .await
            .unwrap();
        users.push(guest);
        let gone = s
            .create_user(named_user("gone@example.com", "Gone"))
            .await
            .unwrap();
        s.upsert_membership(gone.id, o, roles(&[]), MembershipKind::Member)
            .await
            .unwrap();
        s.remove_membership(gone.id, o, t(1)).await.unwrap();
        let elsewhere = s
            .create_user(named_user("zed@example.com", "Zed"))
            .await
            .unwrap();
        s.upsert_membership(elsewhere.id, other, roles(&[]), MembershipKind::Member)
            .await
            .unwrap();
        (o, users)
    }

    fn emails(found: &[(User, Membership)]) -> Vec<String> {
        found.iter().map(|(u, _)| u.email.to_lowercase()).collect()
    }

    pub async fn search_org_users_queries(db: DbStore) {
        let s = dyn_store(&db);
        let (o, _) = search_fixture(&*s).await;
        let by_email = UserSort {
            field: UserSortField::Email,
            descending: false,
        };
        let q = |query: UserQuery| {
            let s = Arc::clone(&s);
            async move {
                emails(
                    &s.search_org_users(o, &query, by_email, 0, 100)
                        .await
                        .unwrap(),
                )
            }
        };
        let text = |x: &str| UserQuery::Text(x.into());
        let exact = |x: &str| UserQuery::ExactEmail(x.into());
        assert_eq!(
            q(UserQuery::And(vec![])).await,
            vec![
                "alice@example.com",
                "bob@corp.io",
                "carol@example.com",
                "dave@corp.io",
                "erin@guest.net"
            ]
        );
        assert!(q(UserQuery::Or(vec![])).await.is_empty());
        assert_eq!(
            q(exact(" Alice@EXAMPLE.com")).await,
            vec!["alice@example.com"]
        );
        assert!(q(exact("alice")).await.is_empty());
        assert_eq!(
            q(text("EXAMPLE")).await,
            vec!["alice@example.com", "carol@example.com"]
        );
        assert_eq!(q(text("smith")).await, vec!["alice@example.com"]); // display name
        assert_eq!(q(text("ng")).await, vec!["carol@example.com"]);
        assert_eq!(q(text("%")).await, vec!["bob@corp.io"]); // wildcards are literal
        assert_eq!(q(text("0%_d")).await, vec!["bob@corp.io"]);
        assert!(q(text("_x")).await.is_empty());
        assert_eq!(
            q(UserQuery::Or(vec![exact("dave@corp.io"), text("erin")])).await,
            vec!["dave@corp.io", "erin@guest.net"]
        );
        assert_eq!(
            q(UserQuery::And(vec![
                text("corp"),
                UserQuery::Or(vec![text("bob"), text("nobody")])
            ]))
            .await,
            vec!["bob@corp.io"]
        );
        assert!(
            q(UserQuery::And(vec![text("corp"), UserQuery::Or(vec![])]))
                .await
                .is_empty()
        );
        assert!(q(text("gone")).await.is_empty());
        assert!(q(text("zed")).await.is_empty());
        let found = s
            .search_org_users(o, &text("erin"), by_email, 0, 10)
            .await
            .unwrap();
        assert_eq!(found[0].1.kind, MembershipKind::Guest);
        assert_eq!(found[0].1.org_id, o);
    }

    pub async fn search_org_users_sort_and_paging(db: DbStore) {
        let s = dyn_store(&db);
        let (o, users) = search_fixture(&*s).await;
        let all = UserQuery::And(vec![]);
        let run = |field, descending, offset, limit| {
            let s = Arc::clone(&s);
            let all = all.clone();
            async move {
                emails(
                    &s.search_org_users(o, &all, UserSort { field, descending }, offset, limit)
                        .await
                        .unwrap(),
                )
            }
        };
        assert_eq!(
            run(UserSortField::Name, false, 0, 100).await,
            vec![
                "alice@example.com",
                "bob@corp.io",
                "carol@example.com",
                "dave@corp.io",
                "erin@guest.net"
            ]
        );
        assert_eq!(
            run(UserSortField::Email, true, 0, 100).await,
            vec![
                "erin@guest.net",
                "dave@corp.io",
                "carol@example.com",
                "bob@corp.io",
                "alice@example.com"
            ]
        );
        assert_eq!(
            run(UserSortField::Email, false, 1, 2).await,
            vec!["bob@corp.io", "carol@example.com"]
        );
        assert_eq!(
            run(UserSortField::Email, false, 4, 2).await,
            vec!["erin@guest.net"]
        );
        assert!(run(UserSortField::Email, false, 9, 2).await.is_empty());
        // Created in fixture order, except where the clock did not move: ties go by id.
        let created = run(UserSortField::CreatedAt, false, 0, 100).await;
        let mut expected: Vec<&User> = users.iter().collect();
        expected.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        assert_eq!(
            created,
            expected
                .iter()
                .map(|u| u.email.to_lowercase())
                .collect::<Vec<_>>()
        );
        // Updating carol makes her the most recently updated.
        s.update_user(
            users[0].id,
            UserUpdate {
                display_name: Some("Carol N".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let updated = run(UserSortField::UpdatedAt, true, 0, 1).await;
        assert_eq!(updated, vec!["carol@example.com"]);
        // Equal names tie by user id, in both directions.
        let twin1 = s.create_user(named_user("t1@x.io", "Twin")).await.unwrap();
        let twin2 = s.create_user(named_user("t2@x.io", "twin")).await.unwrap();
        for u in [&twin1, &twin2] {
            s.upsert_membership(u.id, o, roles(&[]), MembershipKind::Member)
                .await
                .unwrap();
        }
        let mut twins = [twin1.id, twin2.id];
        twins.sort();
        for desc in [false, true] {
            let found = s
                .search_org_users(
                    o,
                    &UserQuery::Text("twin".into()),
                    UserSort {
                        field: UserSortField::Name,
                        descending: desc,
                    },
                    0,
                    10,
                )
                .await
                .unwrap();
            assert_eq!(
                found.iter().map(|(u, _)| u.id).collect::<Vec<_>>(),
                twins.to_vec()
            );
        }
    }

    pub async fn login_activity_order(db: DbStore) {
        let s = dyn_store(&db);
        let a = org(&*s, "a").await;
        let b = org(&*s, "b").await;
        let mut us = Vec::new();
        for i in 0..5 {
            us.push(member(&*s, &format!("u{i}@x.io"), a, &[]).await);
        }
        let ob = member(&*s, "ob@x.io", b, &[]).await;
        s.touch_last_login(us[0].id, a, t(10)).await.unwrap();
        s.touch_last_login(us[1].id, a, t(30)).await.unwrap();
        s.touch_last_login(us[2].id, a, t(20)).await.unwrap();
        s.touch_last_login(ob.id, b, t(25)).await.unwrap();
        // us[3] and us[4] never logged in: ordered between themselves by user id.
        let mut never = [us[3].id, us[4].id];
        never.sort();
        let ids = |v: Vec<Membership>| v.into_iter().map(|m| m.user_id).collect::<Vec<_>>();
        let desc = ids(s.org_login_activity(&[a], true, 0, 100).await.unwrap());
        assert_eq!(desc, vec![us[1].id, us[2].id, us[0].id, never[0], never[1]]);
        let asc = ids(s.org_login_activity(&[a], false, 0, 100).await.unwrap());
        assert_eq!(asc, vec![never[0], never[1], us[0].id, us[2].id, us[1].id]);
        let page = ids(s.org_login_activity(&[a], true, 1, 2).await.unwrap());
        assert_eq!(page, vec![us[2].id, us[0].id]);
        let both = ids(s.org_login_activity(&[a, b], true, 0, 3).await.unwrap());
        assert_eq!(both, vec![us[1].id, ob.id, us[2].id]);
        assert!(
            s.org_login_activity(&[], true, 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Ties on the same instant go by user id.
        s.touch_last_login(us[0].id, a, t(30)).await.unwrap();
        let mut tied = [us[0].id, us[1].id];
        tied.sort();
        assert_eq!(
            ids(s.org_login_activity(&[a], true, 0, 2).await.unwrap()),
            tied.to_vec()
        );
    }

    pub async fn throttle_claim_is_atomic(db: DbStore) {
        let s = dyn_store(&db);
        let claims = (0..50).map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.throttle_claim("victim@x.io", t(0), t(30)).await })
        });
        let mut granted = 0;
        for c in claims.collect::<Vec<_>>() {
            match c.await.unwrap().unwrap() {
                ThrottleClaim::Granted { failures } => {
                    assert_eq!(failures, 0);
                    granted += 1;
                }
                ThrottleClaim::Wait { until } => assert_eq!(until, t(30)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(granted, 1, "exactly one of 50 concurrent claims is granted");
        // Also on a key with history, once its window has passed.
        s.throttle_fail("victim@x.io", t(40), None).await.unwrap();
        let claims = (0..50).map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.throttle_claim("victim@x.io", t(50), t(60)).await })
        });
        let mut granted = 0;
        for c in claims.collect::<Vec<_>>() {
            if let ThrottleClaim::Granted { failures } = c.await.unwrap().unwrap() {
                assert_eq!(failures, 1);
                granted += 1;
            }
        }
        assert_eq!(granted, 1);
    }

    pub async fn throttle_lock_semantics(db: DbStore) {
        let s = dyn_store(&db);
        let k = "k@x.io";
        assert_eq!(s.throttle_get(k).await.unwrap(), None);
        assert_eq!(
            s.throttle_claim(k, t(0), t(5)).await.unwrap(),
            ThrottleClaim::Granted { failures: 0 }
        );
        assert_eq!(
            s.throttle_claim(k, t(1), t(6)).await.unwrap(),
            ThrottleClaim::Wait { until: t(5) }
        );
        assert_eq!(s.throttle_fail(k, t(10), None).await.unwrap(), 1);
        assert_eq!(
            s.throttle_claim(k, t(9), t(12)).await.unwrap(),
            ThrottleClaim::Wait { until: t(10) }
        );
        assert_eq!(
            s.throttle_claim(k, t(10), t(12)).await.unwrap(),
            ThrottleClaim::Granted { failures: 1 }
        );
        assert_eq!(
            s.throttle_fail(k, t(20), Some(Some(t(100)))).await.unwrap(),
            2
        );
        assert_eq!(
            s.throttle_get(k).await.unwrap(),
            Some(ThrottleState {
                failures: 2,
                next_attempt_at: t(20),
                locked_until: Some(t(100))
            })
        );
        assert_eq!(
            s.throttle_claim(k, t(50), t(55)).await.unwrap(),
            ThrottleClaim::Locked {
                until: Some(t(100))
            }
        );
        // A later failure without a lock keeps the lock.
        assert_eq!(s.throttle_fail(k, t(60), None).await.unwrap(), 3);
        assert_eq!(
            s.throttle_claim(k, t(99), t(101)).await.unwrap(),
            ThrottleClaim::Locked {
                until: Some(t(100))
            }
        );
        assert_eq!(
            s.throttle_claim(k, t(100), t(105)).await.unwrap(),
            ThrottleClaim::Granted { failures: 3 }
        );
        // Locked until an admin unlocks.
        assert_eq!(s.throttle_fail(k, t(110), Some(None)).await.unwrap(), 4);
        assert_eq!(
            s.throttle_claim(k, t(1_000_000), t(1_000_005))
                .await
                .unwrap(),
            ThrottleClaim::Locked { until: None }
        );
        let st = s.throttle_get(k).await.unwrap().unwrap();
        assert_eq!(st.locked_until, Some(portcullis_store::INDEFINITE_LOCK));
        s.throttle_reset(k).await.unwrap();
        assert_eq!(s.throttle_get(k).await.unwrap(), None);
        assert_eq!(
            s.throttle_claim(k, t(200), t(205)).await.unwrap(),
            ThrottleClaim::Granted { failures: 0 }
        );
        // A fail on an unknown key starts at one; keys are independent.
        assert_eq!(
            s.throttle_fail("other", t(3), Some(Some(t(4))))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.throttle_claim("other", t(3), t(4)).await.unwrap(),
            ThrottleClaim::Locked { until: Some(t(4)) }
        );
        s.throttle_reset("never-seen").await.unwrap();
    }

    pub async fn revocation_snapshot_and_events(db: DbStore) {
        let s = dyn_store(&db);
        let empty = s.revocation_snapshot(t(0)).await.unwrap();
        assert_eq!(empty, RevocationSnapshot::default());
        let o = org(&*s, "acme").await;
        let u = member(&*s, "u@x.io", o, &[]).await;
        let v = member(&*s, "v@x.io", o, &[]).await;
        s.create_session(session("live", u.id, o, t(100)))
            .await
            .unwrap();
        s.create_session(session("short", u.id, o, t(20)))
            .await
            .unwrap();
        let k = credential(u.id, o, CredentialKind::ApiKey, 1, t(1));
        let mut k_exp = credential(u.id, o, CredentialKind::ApiKey, 2, t(1));
        k_exp.expires_at = Some(t(20));
        s.create_credential(k.clone(), None).await.unwrap();
        s.create_credential(k_exp.clone(), None).await.unwrap();
        let base = s.revocation_snapshot(t(0)).await.unwrap().seq;

        s.revoke_session(&SessionId("live".into()), t(5))
            .await
            .unwrap();
        s.revoke_session(&SessionId("short".into()), t(5))
            .await
            .unwrap();
        s.revoke_credential(k.id, None, t(6)).await.unwrap();
        s.revoke_credential(k_exp.id, None, t(6)).await.unwrap();
        s.deactivate_user(v.id, t(7)).await.unwrap();
        s.deactivate_membership(u.id, o, None, t(8)).await.unwrap();

        let snap = s.revocation_snapshot(t(30)).await.unwrap();
        let events = s.revocation_events_since(base, 100).await.unwrap();
        assert_eq!(snap.seq, events.last().unwrap().0);
        assert_eq!(snap.deactivated_users, vec![v.id]);
        assert_eq!(snap.deactivated_memberships, vec![(u.id, o)]);
        assert_eq!(
            snap.revoked_sessions,
            vec![(SessionId("live".into()), t(100))]
        ); // "short" expired
        assert_eq!(snap.revoked_credentials, vec![k.id]); // k_exp expired
        let kinds: Vec<RevocationEvent> = events.iter().map(|e| e.1.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                RevocationEvent::Session(SessionId("live".into())),
                RevocationEvent::Session(SessionId("short".into())),
                RevocationEvent::Credential(k.id),
                RevocationEvent::Credential(k_exp.id),
                RevocationEvent::User(v.id),
                RevocationEvent::User(u.id),
            ]
        );
        assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
        let two = s.revocation_events_since(base, 2).await.unwrap();
        assert_eq!(two, events[..2].to_vec());
        let rest = s.revocation_events_since(two[1].0, 100).await.unwrap();
        assert_eq!(rest, events[2..].to_vec());
        assert!(
            s.revocation_events_since(snap.seq, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }

    fn audit(at: i64, action: &str, actor: Option<UserId>, outcome: AuditOutcome) -> AuditEvent {
        AuditEvent {
            id: uuid::Uuid::new_v4(),
            at: t(at),
            actor,
            action: action.into(),
            target: Some(format!("target-{at}")),
            outcome,
            ip: Some("127.0.0.1".into()),
            request_id: Some(format!("req-{at}")),
            detail: json!({"n": at}),
        }
    }

    /// Batches span several multi-row statements; every event lands, in append order.
    pub async fn audit_large_batches_keep_every_event_in_order(db: DbStore) {
        let s = dyn_store(&db);
        let evs: Vec<AuditEvent> = (0..250)
            .map(|i| {
                let mut e = audit(7, "bulk", None, AuditOutcome::Success);
                e.detail = json!({ "i": i });
                e
            })
            .collect();
        s.append_audit(&evs).await.unwrap();
        let got = s
            .list_audit(&AuditFilter {
                action: Some("bulk".into()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let want: Vec<AuditEvent> = evs.into_iter().rev().collect();
        assert_eq!(got, want, "newest-appended first, nothing lost or altered");
    }

    pub async fn audit_append_and_filters(db: DbStore) {
        let s = dyn_store(&db);
        let alice = UserId::new();
        let evs = vec![
            audit(1, "login", Some(alice), AuditOutcome::Success),
            audit(2, "login", None, AuditOutcome::Failure),
            audit(3, "logout", Some(alice), AuditOutcome::Success),
            audit(3, "apikey.create", Some(alice), AuditOutcome::Denied),
        ];
        s.append_audit(&evs).await.unwrap();
        s.append_audit(&[]).await.unwrap();
        let list = |f: AuditFilter| {
            let s = Arc::clone(&s);
            async move {
                s.list_audit(&f)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
            }
        };
        // Newest first; equal instants newest-appended first.
        assert_eq!(
            list(AuditFilter::default()).await,
            vec![evs[3].id, evs[2].id, evs[1].id, evs[0].id]
        );
        assert_eq!(
            s.list_audit(&AuditFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap(),
            vec![evs[3].clone()]
        );
        assert_eq!(
            list(AuditFilter {
                actor: Some(alice),
                ..Default::default()
            })
            .await,
            vec![evs[3].id, evs[2].id, evs[0].id]
        );
        assert_eq!(
            list(AuditFilter {
                action: Some("login".into()),
                ..Default::default()
            })
            .await,
            vec![evs[1].id, evs[0].id]
        );
        assert_eq!(
            list(AuditFilter {
                outcome: Some(AuditOutcome::Denied),
                ..Default::default()
            })
            .await,
            vec![evs[3].id]
        );
        assert_eq!(
            list(AuditFilter {
                target: Some("target-2".into()),
                ..Default::default()
            })
            .await,
            vec![evs[1].id]
        );
        assert_eq!(
            list(AuditFilter {
                since: Some(t(2)),
                until: Some(t(3)),
                ..Default::default()
            })
            .await,
            vec![evs[1].id]
        );
        assert!(matches!(
            s.append_audit(&evs[..1]).await,
            Err(StoreError::Conflict(_))
        ));
        // The failed batch wrote nothing.
        let batch = vec![audit(9, "x", None, AuditOutcome::Success), evs[0].clone()];
        assert!(s.append_audit(&batch).await.is_err());
        assert_eq!(list(AuditFilter::default()).await.len(), 4);
    }

    pub async fn keys_lifecycle(db: DbStore) {
        let s = dyn_store(&db);
        let key = |kid: &str, purpose, at| KeyRecord {
            kid: kid.into(),
            purpose,
            algorithm: "EdDSA".into(),
            sealed_private: vec![1, 2, 3, 0, 255],
            public: vec![9; 32],
            created_at: t(at),
            retired_at: None,
            revoked_at: None,
        };
        s.insert_key(key("k2", KeyPurpose::TokenSigning, 2))
            .await
            .unwrap();
        s.insert_key(key("k1", KeyPurpose::TokenSigning, 1))
            .await
            .unwrap();
        s.insert_key(key("ca", KeyPurpose::CertificateAuthority, 0))
            .await
            .unwrap();
        assert!(matches!(
            s.insert_key(key("k1", KeyPurpose::TokenSigning, 5)).await,
            Err(StoreError::Conflict(m)) if m == "key id already exists"
        ));
        let signing = s.list_keys(KeyPurpose::TokenSigning).await.unwrap();
        assert_eq!(
            signing.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            vec!["k1", "k2"]
        );
        assert_eq!(signing[0], key("k1", KeyPurpose::TokenSigning, 1));
        s.retire_key("k1", t(10)).await.unwrap();
        s.retire_key("k1", t(20)).await.unwrap(); // keeps the first retirement
        let k1 = s
            .list_keys(KeyPurpose::TokenSigning)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(k1.retired_at, Some(t(10)));
        assert_eq!(
            s.list_keys(KeyPurpose::CertificateAuthority)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            s.retire_key("nope", t(1)).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn key_revocation_is_atomic_with_event(db: DbStore) {
        let s = dyn_store(&db);
        let key = |kid: &str, at| KeyRecord {
            kid: kid.into(),
            purpose: KeyPurpose::TokenSigning,
            algorithm: "EdDSA".into(),
            sealed_private: vec![1],
            public: vec![9; 32],
            created_at: t(at),
            retired_at: None,
            revoked_at: None,
        };
        s.insert_key(key("k1", 1)).await.unwrap();
        s.insert_key(key("k2", 2)).await.unwrap();
        let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
        assert!(s.revoke_key("k1", t(5)).await.unwrap());
        assert!(!s.revoke_key("k1", t(6)).await.unwrap()); // idempotent, no second event
        assert!(matches!(
            s.revoke_key("nope", t(6)).await,
            Err(StoreError::NotFound(_))
        ));
        let k1 = s
            .list_keys(KeyPurpose::TokenSigning)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((k1.revoked_at, k1.retired_at), (Some(t(5)), Some(t(5))));
        let ev = s.revocation_events_since(seq, 10).await.unwrap();
        assert_eq!(
            ev.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
            vec![RevocationEvent::Key("k1".into())]
        );
        let snap = s.revocation_snapshot(t(100)).await.unwrap();
        assert_eq!(snap.revoked_keys, vec!["k1".to_string()]);
    }

    pub async fn password_reset_codes_are_single_use(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let u = member(&*s, "u@x.io", o, &[]).await;
        let other = member(&*s, "v@x.io", o, &[]).await;
        s.create_session(session("s1", u.id, o, t(1000)))
            .await
            .unwrap();
        s.create_credential(credential(u.id, o, CredentialKind::ApiKey, 1, t(1)), None)
            .await
            .unwrap();
        assert!(matches!(
            s.require_password_reset(UserId::new(), &[7; 32], t(100), false, t(10))
                .await,
            Err(StoreError::NotFound(_))
        ));
        let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
        let d = s
            .require_password_reset(u.id, &[7; 32], t(100), false, t(10))
            .await
            .unwrap();
        assert_eq!((d.sessions_revoked, d.credentials_revoked), (1, 0));
        let flagged = s.get_user(u.id).await.unwrap().unwrap();
        assert!(flagged.password_reset_required);
        assert_eq!(
            s.revocation_events_since(seq, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.1)
                .collect::<Vec<_>>(),
            vec![RevocationEvent::User(u.id)]
        );
        // A second reset replaces the code, and may revoke credentials.
        let d = s
            .require_password_reset(u.id, &[8; 32], t(100), true, t(11))
            .await
            .unwrap();
        assert_eq!((d.sessions_revoked, d.credentials_revoked), (0, 1));
        // Wrong code, someone else's user, expired, replaced: nothing changes.
        for (user, code, at) in [
            (u.id, [9; 32], t(20)),
            (other.id, [8; 32], t(20)),
            (u.id, [8; 32], t(100)),
            (u.id, [7; 32], t(20)),
        ] {
            assert_eq!(
                s.redeem_password_reset(user, &code, "$argon2id$x", at)
                    .await
                    .unwrap(),
                None
            );
        }
        assert!(
            s.get_user(u.id)
                .await
                .unwrap()
                .unwrap()
                .password_reset_required
        );
        s.create_session(session("s2", u.id, o, t(1000)))
            .await
            .unwrap();
        assert_eq!(
            s.redeem_password_reset(u.id, &[8; 32], "$argon2id$new", t(20))
                .await
                .unwrap(),
            Some(1)
        );
        let done = s.get_user(u.id).await.unwrap().unwrap();
        assert!(!done.password_reset_required);
        assert_eq!(done.password_hash.as_deref(), Some("$argon2id$new"));
        assert!(
            s.get_session(&SessionId("s2".into()))
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        // Spent.
        assert_eq!(
            s.redeem_password_reset(u.id, &[8; 32], "$argon2id$again", t(21))
                .await
                .unwrap(),
            None
        );
        // A deactivated user cannot redeem.
        s.require_password_reset(other.id, &[5; 32], t(100), false, t(10))
            .await
            .unwrap();
        s.deactivate_user(other.id, t(12)).await.unwrap();
        assert_eq!(
            s.redeem_password_reset(other.id, &[5; 32], "$argon2id$x", t(20))
                .await
                .unwrap(),
            None
        );
    }

    pub async fn revoke_user_credentials_everywhere(db: DbStore) {
        let s = dyn_store(&db);
        let a = org(&*s, "acme").await;
        let b = org(&*s, "beta").await;
        let u = member(&*s, "u@x.io", a, &[]).await;
        s.upsert_membership(u.id, b, roles(&[]), MembershipKind::Member)
            .await
            .unwrap();
        let v = member(&*s, "v@x.io", a, &[]).await;
        s.create_credential(credential(u.id, a, CredentialKind::ApiKey, 1, t(1)), None)
            .await
            .unwrap();
        s.create_credential(credential(u.id, b, CredentialKind::ApiKey, 2, t(1)), None)
            .await
            .unwrap();
        s.create_credential(credential(v.id, a, CredentialKind::ApiKey, 3, t(1)), None)
            .await
            .unwrap();
        let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
        assert_eq!(
            s.revoke_user_credentials(u.id, Some(u.id), t(5))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            s.revoke_user_credentials(u.id, Some(u.id), t(6))
                .await
                .unwrap(),
            0
        );
        let state = s.user_revocation_state(u.id, t(7)).await.unwrap();
        assert_eq!(state.revoked_credentials.len(), 2);
        assert!(
            s.find_credential_by_hash(&[3; 32])
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        assert_eq!(
            s.revocation_events_since(seq, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.1)
                .collect::<Vec<_>>(),
            vec![RevocationEvent::User(u.id)]
        );
    }

    pub async fn settings_and_job_permissions(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let u = member(&*s, "u@x.io", o, &[]).await;
        let scope = SettingsScope::User(u.id);
        assert_eq!(
            s.get_settings(scope, SettingsNamespace::Nominal)
                .await
                .unwrap(),
            None
        );
        s.put_settings(scope, SettingsNamespace::Nominal, json!({"theme": "dark"}))
            .await
            .unwrap();
        s.put_settings(scope, SettingsNamespace::Nominal, json!({"tz": "UTC"}))
            .await
            .unwrap();
        assert_eq!(
            s.get_settings(scope, SettingsNamespace::Nominal)
                .await
                .unwrap(),
            Some(json!({"tz": "UTC"}))
        );
        assert_eq!(
            s.get_settings(scope, SettingsNamespace::Parsable)
                .await
                .unwrap(),
            None
        );
        let org_scope = SettingsScope::Org(o);
        s.put_settings(
            org_scope,
            SettingsNamespace::Parsable,
            json!({"k": {"type": "bool", "value": true}}),
        )
        .await
        .unwrap();
        assert!(
            s.get_settings(org_scope, SettingsNamespace::Parsable)
                .await
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            s.put_settings(SettingsScope::Org(OrgId::new()), SettingsNamespace::Nominal, json!({})).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));

        assert!(s.get_job_permissions(o).await.unwrap().is_empty());
        s.set_job_permissions(o, Role::Author, Some(JobPermissions::job_and_steps()))
            .await
            .unwrap();
        s.set_job_permissions(o, Role::Admin, Some(JobPermissions::default()))
            .await
            .unwrap();
        s.set_job_permissions(o, Role::Admin, Some(JobPermissions::all()))
            .await
            .unwrap();
        let perms = s.get_job_permissions(o).await.unwrap();
        assert_eq!(perms.get(&Role::Admin), Some(&JobPermissions::all()));
        assert_eq!(
            perms.get(&Role::Author),
            Some(&JobPermissions::job_and_steps())
        );
        s.set_job_permissions(o, Role::Author, None).await.unwrap();
        assert_eq!(s.get_job_permissions(o).await.unwrap().len(), 1);
        assert!(matches!(
            s.set_job_permissions(OrgId::new(), Role::Admin, None).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));
    }

    pub async fn team_settings_batches_are_atomic(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let other = org(&*s, "beta").await;
        assert!(s.get_team_settings(o).await.unwrap().is_empty());
        let flag = json!({"type": "bool", "value": true});
        let text = json!({"type": "text", "value": "blue"});
        s.update_team_settings(
            o,
            &[
                ("flag".into(), Some(flag.clone())),
                ("color".into(), Some(text.clone())),
            ],
            10,
        )
        .await
        .unwrap();
        s.update_team_settings(other, &[("x".into(), Some(flag.clone()))], 10)
            .await
            .unwrap();
        let got = s.get_team_settings(o).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["flag"], flag);
        assert_eq!(got["color"], text);
        // Overwrite one, remove one, add one: all in one batch.
        let text2 = json!({"type": "text", "value": "red"});
        s.update_team_settings(
            o,
            &[
                ("color".into(), Some(text2.clone())),
                ("flag".into(), None),
                (
                    "tags".into(),
                    Some(json!({"type": "stringList", "value": ["a"]})),
                ),
            ],
            10,
        )
        .await
        .unwrap();
        let got = s.get_team_settings(o).await.unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["color", "tags"]);
        assert_eq!(got["color"], text2);
        // Over the limit: the whole batch is refused, the earlier state stays.
        let r = s
            .update_team_settings(
                o,
                &[
                    ("color".into(), None),
                    ("a".into(), Some(flag.clone())),
                    ("b".into(), Some(flag.clone())),
                ],
                2,
            )
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        assert_eq!(s.get_team_settings(o).await.unwrap(), got);
        // Removing an absent key is a no-op; another org is untouched.
        s.update_team_settings(o, &[("nope".into(), None)], 2)
            .await
            .unwrap();
        assert_eq!(s.get_team_settings(other).await.unwrap().len(), 1);
        assert!(matches!(
            s.update_team_settings(OrgId::new(), &[("k".into(), Some(flag))], 10).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));
    }

    pub async fn team_settings_concurrent_limit(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        // Eight writers each add two new keys under a limit of 5: at most two batches fit.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let v = json!({"type": "bool", "value": true});
                s.update_team_settings(
                    o,
                    &[
                        (format!("a{i}"), Some(v.clone())),
                        (format!("b{i}"), Some(v)),
                    ],
                    5,
                )
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(ok, 2);
        assert_eq!(s.get_team_settings(o).await.unwrap().len(), 4);
    }

    pub async fn team_priorities_replace_and_clear(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        assert_eq!(s.get_team_priorities(o).await.unwrap(), None);
        let p = |title: &str, priority| PriorityLevel {
            id: uuid::Uuid::new_v4().to_string(),
            priority,
            title: title.into(),
            archived_at: 0,
        };
        let list = vec![p("High", 1), p("Low", 5)];
        s.set_team_priorities(o, Some(&list)).await.unwrap();
        assert_eq!(s.get_team_priorities(o).await.unwrap(), Some(list));
        // Configured but empty is not the same as not configured.
        s.set_team_priorities(o, Some(&[])).await.unwrap();
        assert_eq!(s.get_team_priorities(o).await.unwrap(), Some(vec![]));
        s.set_team_priorities(o, None).await.unwrap();
        assert_eq!(s.get_team_priorities(o).await.unwrap(), None);
        assert!(matches!(
            s.set_team_priorities(OrgId::new(), Some(&[])).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));
    }

    pub async fn team_less_sessions(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let u = s.create_user(new_user("solo@x.io")).await.unwrap();
        // A session of no org round-trips as OrgId::NONE and lists with the user's others.
        let solo = session("solo", u.id, OrgId::NONE, t(100));
        s.create_session(solo.clone()).await.unwrap();
        assert_eq!(s.get_session(&solo.id).await.unwrap(), Some(solo.clone()));
        let other = member(&*s, "m@x.io", o, &[]).await;
        s.create_session(session("in-org", other.id, o, t(100)))
            .await
            .unwrap();
        let live = s.list_user_sessions(u.id, false, t(10)).await.unwrap();
        assert_eq!(live, vec![solo.clone()]);
        // Any other unknown org is still refused.
        assert!(matches!(
            s.create_session(session("x", u.id, OrgId::new(), t(100))).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));
    }

    pub async fn allowlist_entries(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let entry = |org, kind, value: &str| AllowlistEntry {
            org_id: org,
            kind,
            value: value.into(),
            created_at: t(1),
        };
        s.add_allowlist(entry(None, AllowlistKind::Domain, "example.com"))
            .await
            .unwrap();
        s.add_allowlist(entry(None, AllowlistKind::Domain, "example.com"))
            .await
            .unwrap();
        s.add_allowlist(entry(Some(o), AllowlistKind::Domain, "example.com"))
            .await
            .unwrap();
        s.add_allowlist(entry(Some(o), AllowlistKind::Address, "Boss@Corp.io"))
            .await
            .unwrap();
        assert!(matches!(
            s.add_allowlist(entry(Some(OrgId::new()), AllowlistKind::Domain, "x.io")).await,
            Err(StoreError::NotFound(m)) if m == "unknown org"
        ));
        let list = s.list_allowlist().await.unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0], entry(None, AllowlistKind::Domain, "example.com"));
        assert!(list.contains(&entry(Some(o), AllowlistKind::Address, "boss@corp.io")));
        assert!(
            s.remove_allowlist(None, AllowlistKind::Domain, "example.com")
                .await
                .unwrap()
        );
        assert!(
            !s.remove_allowlist(None, AllowlistKind::Domain, "example.com")
                .await
                .unwrap()
        );
        assert!(
            s.remove_allowlist(Some(o), AllowlistKind::Address, "BOSS@corp.io")
                .await
                .unwrap()
        );
        assert_eq!(
            s.list_allowlist().await.unwrap(),
            vec![entry(Some(o), AllowlistKind::Domain, "example.com")]
        );
    }

    pub async fn external_identities_and_provisioning(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let u = member(&*s, "u@x.io", o, &[]).await;
        let ident = |sub: &str, user| ExternalIdentity {
            issuer: "https://idp.example".into(),
            subject: sub.into(),
            user_id: user,
            provider_alias: "okta".into(),
            created_at: t(1),
        };
        s.link_external_identity(ident("s1", u.id)).await.unwrap();
        assert!(matches!(
            s.link_external_identity(ident("s1", u.id)).await,
            Err(StoreError::Conflict(m)) if m == "external identity already linked"
        ));
        assert!(matches!(
            s.link_external_identity(ident("s9", UserId::new())).await,
            Err(StoreError::NotFound(m)) if m == "unknown user"
        ));
        assert_eq!(
            s.find_external_identity("https://idp.example", "s1")
                .await
                .unwrap(),
            Some(ident("s1", u.id))
        );
        assert_eq!(
            s.find_external_identity("https://idp.example", "s2")
                .await
                .unwrap(),
            None
        );

        let fresh = s
            .provision_federated_user(
                new_user("fed@x.io"),
                ident("s2", UserId::new()),
                vec![(o, roles(&[Role::Executor]), MembershipKind::Guest)],
            )
            .await
            .unwrap();
        let linked = s
            .find_external_identity("https://idp.example", "s2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(linked.user_id, fresh.id);
        let m = s.get_membership(fresh.id, o).await.unwrap().unwrap();
        assert_eq!(
            (m.kind, m.roles),
            (MembershipKind::Guest, roles(&[Role::Executor]))
        );
        assert_eq!(s.list_user_identities(fresh.id).await.unwrap().len(), 1);

        // All or nothing: an unknown org undoes the user and the link.
        let err = s
            .provision_federated_user(
                new_user("fed2@x.io"),
                ident("s3", UserId::new()),
                vec![
                    (o, roles(&[]), MembershipKind::Member),
                    (OrgId::new(), roles(&[]), MembershipKind::Member),
                ],
            )
            .await;
        assert!(matches!(err, Err(StoreError::NotFound(m)) if m == "unknown org"));
        assert!(s.get_user_by_email("fed2@x.io").await.unwrap().is_none());
        assert!(
            s.find_external_identity("https://idp.example", "s3")
                .await
                .unwrap()
                .is_none()
        );
        // A taken email is a conflict, also undone.
        let err = s
            .provision_federated_user(new_user("U@X.io"), ident("s4", UserId::new()), vec![])
            .await;
        assert!(matches!(err, Err(StoreError::Conflict(m)) if m == "email already in use"));
        assert!(
            s.find_external_identity("https://idp.example", "s4")
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn bootstrap_only_once(db: DbStore) {
        let s = dyn_store(&db);
        let new_org = |name: &str| NewOrg {
            name: name.into(),
            display_name: None,
            region_id: "eu".into(),
        };
        let mut admin = new_user("root@x.io");
        admin.super_admin = true;
        let (o, u) = s
            .bootstrap(region("eu"), new_org("acme"), admin.clone())
            .await
            .unwrap()
            .unwrap();
        assert!(u.super_admin);
        assert_eq!(o.region_id, "eu");
        let m = s.get_membership(u.id, o.id).await.unwrap().unwrap();
        assert!(m.is_admin());
        assert_eq!(m.kind, MembershipKind::Member);
        assert!(s.get_region("eu").await.unwrap().is_some());
        assert_eq!(
            s.bootstrap(region("eu"), new_org("acme2"), new_user("other@x.io"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(s.list_orgs().await.unwrap().len(), 1);
        assert_eq!(s.list_users(0, 10).await.unwrap().len(), 1);
    }

    pub async fn bootstrap_concurrent_single_winner(db: DbStore) {
        let s = dyn_store(&db);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    s.bootstrap(
                        region("eu"),
                        NewOrg {
                            name: format!("org{i}"),
                            display_name: None,
                            region_id: "eu".into(),
                        },
                        new_user(&format!("root{i}@x.io")),
                    )
                    .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
        assert_eq!(s.list_users(0, 10).await.unwrap().len(), 1);
        assert_eq!(s.list_orgs().await.unwrap().len(), 1);
    }

    pub async fn replace_persistent_concurrent(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let admin = member(&*s, "admin@x.io", o, &[Role::Admin]).await;
        let u = member(&*s, "u@x.io", o, &[]).await;
        let tasks: Vec<_> = (0..12u8)
            .map(|i| {
                let s = Arc::clone(&s);
                let mut c = credential(u.id, o, CredentialKind::Persistent, i + 1, t(i64::from(i)));
                c.creator_id = admin.id;
                tokio::spawn(async move { s.create_credential(c, Some(admin.id)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let active = CredentialFilter {
            user_id: Some(u.id),
            kind: Some(CredentialKind::Persistent),
            ..Default::default()
        };
        assert_eq!(s.list_credentials(&active, 0, 100).await.unwrap().len(), 1);
        let all = CredentialFilter {
            include_revoked: true,
            ..active
        };
        assert_eq!(s.list_credentials(&all, 0, 100).await.unwrap().len(), 12);
    }

    pub async fn register_resources_concurrent(db: DbStore) {
        let s = dyn_store(&db);
        let o = org(&*s, "acme").await;
        let w1 = s.create_workspace(o, "one", None).await.unwrap().id;
        let w2 = s.create_workspace(o, "two", None).await.unwrap().id;
        let rids: Vec<String> = (0..20).map(|i| format!("ri.x.{i:02}")).collect();
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let s = Arc::clone(&s);
                let ws = if i % 2 == 0 { w1 } else { w2 };
                let mut mine = rids.clone();
                if i % 3 == 0 {
                    mine.reverse();
                }
                tokio::spawn(async move { (ws, s.register_resources(ws, &mine).await) })
            })
            .collect();
        let mut ok = BTreeSet::new();
        for task in tasks {
            match task.await.unwrap() {
                (ws, Ok(())) => {
                    ok.insert(ws);
                }
                (_, Err(StoreError::ResourceConflict { resource, .. })) => {
                    assert_eq!(resource, "ri.x.00");
                }
                (_, Err(e)) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(ok.len(), 1, "all calls that succeeded used one workspace");
        let map = s.resource_workspaces(&rids).await.unwrap();
        assert_eq!(map.len(), 20);
        assert!(map.values().all(|w| ok.contains(w)));
    }

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
        s.remove_membership(u.id, o, t(10)).await.unwrap();
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
        s.deactivate_membership(v.id, o, None, t(20)).await.unwrap();
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
        let disable = |d: bool| OrgUpdate {
            disabled: Some(d),
            ..Default::default()
        };
        s.update_org(o, disable(true)).await.unwrap();
        let st = s.org_revocation_state(o).await.unwrap();
        let cut = st.tokens_not_before.expect("a cut-off");
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
        s.update_org(o, disable(true)).await.unwrap();
        assert_eq!(
            s.org_revocation_state(o).await.unwrap().tokens_not_before,
            Some(cut)
        );
        s.update_org(o, disable(false)).await.unwrap();
        let st = s.org_revocation_state(o).await.unwrap();
        assert!(!st.disabled);
        assert_eq!(st.tokens_not_before, Some(cut));
        let snap = s.revocation_snapshot(t(0)).await.unwrap();
        assert!(snap.disabled_orgs.is_empty());
        assert_eq!(snap.org_cutoffs, vec![(o, cut)]);
        // Other updates emit nothing; an unknown org reads as disabled.
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
        assert!(
            s.revocation_events_since(seq, 100)
                .await
                .unwrap()
                .is_empty()
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
                tokio::spawn(
                    async move { s.take_sso_flow(SsoFlowKind::Callback, "race", t(1)).await },
                )
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
}
