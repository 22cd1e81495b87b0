//! Settings and team settings, team-less sessions, allow-list, external identities, bootstrap, concurrent replacements and registrations.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;
use serde_json::json;

use crate::common::*;

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
    assert!(s.get_org_settings(o).await.unwrap().is_empty());
    let flag = json!({"type": "bool", "value": true});
    let text = json!({"type": "text", "value": "blue"});
    s.update_org_settings(
        o,
        &[
            ("flag".into(), Some(flag.clone())),
            ("color".into(), Some(text.clone())),
        ],
        10,
    )
    .await
    .unwrap();
    s.update_org_settings(other, &[("x".into(), Some(flag.clone()))], 10)
        .await
        .unwrap();
    let got = s.get_org_settings(o).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["flag"], flag);
    assert_eq!(got["color"], text);
    // Overwrite one, remove one, add one: all in one batch.
    let text2 = json!({"type": "text", "value": "red"});
    s.update_org_settings(
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
    let got = s.get_org_settings(o).await.unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["color", "tags"]);
    assert_eq!(got["color"], text2);
    // Over the limit: the whole batch is refused, the earlier state stays.
    let r = s
        .update_org_settings(
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
    assert_eq!(s.get_org_settings(o).await.unwrap(), got);
    // Removing an absent key is a no-op; another org is untouched.
    s.update_org_settings(o, &[("nope".into(), None)], 2)
        .await
        .unwrap();
    assert_eq!(s.get_org_settings(other).await.unwrap().len(), 1);
    assert!(matches!(
        s.update_org_settings(OrgId::new(), &[("k".into(), Some(flag))], 10).await,
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
            s.update_org_settings(
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
    assert_eq!(s.get_org_settings(o).await.unwrap().len(), 4);
}

pub async fn team_priorities_replace_and_clear(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    assert_eq!(s.get_org_priorities(o).await.unwrap(), None);
    let p = |title: &str, priority| PriorityLevel {
        id: uuid::Uuid::new_v4().to_string(),
        priority,
        title: title.into(),
        archived_at: 0,
    };
    let list = vec![p("High", 1), p("Low", 5)];
    s.set_org_priorities(o, Some(&list)).await.unwrap();
    assert_eq!(s.get_org_priorities(o).await.unwrap(), Some(list));
    // Configured but empty is not the same as not configured.
    s.set_org_priorities(o, Some(&[])).await.unwrap();
    assert_eq!(s.get_org_priorities(o).await.unwrap(), Some(vec![]));
    s.set_org_priorities(o, None).await.unwrap();
    assert_eq!(s.get_org_priorities(o).await.unwrap(), None);
    assert!(matches!(
        s.set_org_priorities(OrgId::new(), Some(&[])).await,
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
