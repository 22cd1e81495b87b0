//! Team settings administration and team-less sessions, on a real SQLite store: who may manage a
//! team's settings (`Engine::org_admin`), all-or-nothing batches, and `OrgChoice::DefaultOrNone`.

use portcullis_core::admin::AdminError;
use portcullis_core::audit::AuditContext;
use portcullis_core::engine::OrgChoice;
use portcullis_core::org_views::OrgScope;
use portcullis_core::*;
use portcullis_testkit::{PASSWORD as PW, TestEnv};
use serde_json::json;

#[tokio::test]
async fn org_admin_is_an_admin_of_that_org_or_a_super_admin() {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    let beta = e.org("beta").await;
    e.user_in("admin@x.io", &acme, &[Role::Admin]).await;
    e.user_in("padmin@x.io", &acme, &[Role::ParsableAdmin])
        .await;
    let both = e.user_in("both@x.io", &acme, &[Role::Admin]).await;
    e.join(&both, &beta, &[Role::Author], MembershipKind::Member)
        .await;
    e.user("root@x.io")
        .super_admin()
        .member(&beta, &[])
        .create()
        .await;
    e.user_in("target@x.io", &acme, &[Role::Executor]).await;

    let admin = e.login("admin@x.io", OrgChoice::Default).await.principal;
    assert!(e.engine.org_admin(&admin, acme.id).await.is_ok());
    let denied = |r: Result<_, CoreError>| matches!(r, Err(CoreError::PermissionDenied(_)));
    assert!(denied(e.engine.org_admin(&admin, beta.id).await));
    assert!(denied(e.engine.org_admin(&admin, OrgId::new()).await));
    let padmin = e.login("padmin@x.io", OrgChoice::Default).await.principal;
    assert!(denied(e.engine.org_admin(&padmin, acme.id).await));
    let root = e.login("root@x.io", OrgChoice::Default).await.principal;
    assert!(e.engine.org_admin(&root, acme.id).await.is_ok());
    assert!(e.engine.org_admin(&root, OrgId::new()).await.is_ok());
    // A proxy session acts with the target's rights, not the super-admin's.
    let proxy = e
        .try_login_as("root@x.io", OrgChoice::Default, Some("target@x.io"))
        .await
        .unwrap()
        .principal;
    assert!(denied(e.engine.org_admin(&proxy, acme.id).await));
    // A team token of beta does not reach acme, even for acme's admin.
    let session = e
        .login("both@x.io", OrgChoice::Specific(acme.id))
        .await
        .principal;
    assert!(e.engine.org_admin(&session, acme.id).await.is_ok());
    let issued = e
        .engine
        .org_token(&session, beta.id, &AuditContext::default())
        .await
        .unwrap();
    let team = e.engine.authenticate(&issued.token).await.unwrap();
    assert!(denied(e.engine.org_admin(&team, acme.id).await));
    // A deactivated membership is no longer an admin.
    let uc = use_cases::UseCaseCtx::direct(e.store.as_ref());
    use_cases::set_membership_deactivated(&uc, both.id, acme.id, true, json!({}))
        .await
        .unwrap();
    assert!(denied(e.engine.org_admin(&session, acme.id).await));
}

#[tokio::test]
async fn a_bad_change_in_a_batch_writes_nothing_and_is_audited() {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    e.user_in("admin@x.io", &acme, &[Role::Admin]).await;
    let p = e.login("admin@x.io", OrgChoice::Default).await.principal;
    let admin = e.engine.org_admin(&p, acme.id).await.unwrap();
    let org = acme.id.to_string();
    admin
        .update_org_settings(
            &org,
            &[("a".into(), Some(json!({"type": "bool", "value": true})))],
        )
        .await
        .unwrap();
    let r = admin
        .update_org_settings(
            &org,
            &[
                ("a".into(), None),
                ("b".into(), Some(json!({"type": "text", "value": "ok"}))),
                ("c".into(), Some(json!({"type": "option", "value": ""}))),
            ],
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    let v = admin.org_settings(&org).await.unwrap();
    assert_eq!(
        v.settings.into_iter().collect::<Vec<_>>(),
        vec![("a".to_string(), SettingValue::Bool(true))]
    );
    let events = e.store.list_audit(&AuditFilter::default()).await.unwrap();
    let ev = events
        .iter()
        .find(|ev| ev.action == "team_settings.update")
        .expect("audited");
    assert_eq!(ev.actor, Some(p.user));
    assert_eq!(ev.detail["set"], json!(["a"]));
    assert!(ev.detail.get("value").is_none());
}

#[tokio::test]
async fn default_or_none_gives_a_session_of_no_team() {
    let e = TestEnv::new().await;
    let u = e.user("solo@x.io").create().await;
    let ctx = AuditContext::default();
    // Default still refuses a user on no team.
    assert!(matches!(
        e.engine
            .login_password("solo@x.io", PW, OrgChoice::Default, None, &ctx)
            .await,
        Err(CoreError::NoMembership)
    ));
    let g = e
        .engine
        .login_password("solo@x.io", PW, OrgChoice::DefaultOrNone, None, &ctx)
        .await
        .unwrap();
    assert!(g.token.org.is_none() && g.session.org_id.is_none());
    let p = e.engine.authenticate(&g.token.token).await.unwrap();
    assert_eq!((p.user, p.org), (u.id, OrgId::NONE));
    let data = e.engine.login_data_for_grant(&g).await.unwrap();
    assert!(data.orgs.is_empty() && data.regions.is_empty());
    // With a team, DefaultOrNone is Default.
    let acme = e.org("acme").await;
    e.join(&u, &acme, &[Role::Author], MembershipKind::Member)
        .await;
    let g = e
        .engine
        .login_password("solo@x.io", PW, OrgChoice::DefaultOrNone, None, &ctx)
        .await
        .unwrap();
    assert_eq!(g.token.org, acme.id);
    let views = e
        .engine
        .org_views(&g.user, OrgScope::AllActive)
        .await
        .unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].priorities, None);
}
