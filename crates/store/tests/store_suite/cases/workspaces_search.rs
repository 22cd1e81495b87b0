//! Workspaces, grants and resources; user search and login activity.

use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;
use serde_json::json;

use crate::common::*;

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
    remove_member(s, gone.id, o, t(1)).await.unwrap();
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
