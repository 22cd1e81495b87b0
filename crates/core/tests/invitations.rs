//! Preregistration of an existing account (issue 15 item 3): a pending invitation, not a
//! membership, accepted at the account's next sign-in; the answer does not reveal that the
//! account existed. On a real SQLite store.

use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx};

/// Every user's avatar: the invitation must not reveal it.
const AVATAR: &str = "https://cdn.example.com/kim.png";

async fn env() -> TestEnv {
    let cfg = CoreConfig {
        allowed_email_domains: vec!["example.com".into()],
        ..CoreConfig::default()
    };
    TestEnv::builder().config(cfg).build().await
}

/// Ada, an admin of `a` (signed in there), and Kim, an existing account in `b`.
async fn admin_and_kim(e: &TestEnv, a: &Org, b: &Org) -> (User, tokens::Principal) {
    e.user("admin@example.com")
        .name("Ada Admin")
        .avatar(AVATAR)
        .member(a, &[Role::Admin])
        .create()
        .await;
    let kim = e
        .user("kim@example.com")
        .name("Kim Known")
        .avatar(AVATAR)
        .member(b, &[])
        .create()
        .await;
    let admin = e
        .login("admin@example.com", OrgChoice::Specific(a.id))
        .await
        .principal;
    (kim, admin)
}

/// Whether `user` has any membership (active or not) in `org`.
async fn has_membership(e: &TestEnv, user: UserId, org: &Org) -> bool {
    e.store
        .get_membership(user, org.id)
        .await
        .unwrap()
        .is_some()
}

async fn in_org(e: &TestEnv, user: UserId, org: &Org) -> bool {
    e.store
        .get_membership(user, org.id)
        .await
        .unwrap()
        .is_some_and(|m| m.is_active())
}

#[tokio::test]
async fn an_existing_account_is_invited_and_joins_at_its_next_sign_in() {
    let e = env().await;
    let a = e.org("acme").await;
    let b = e.org("beta").await;
    let (kim, admin) = admin_and_kim(&e, &a, &b).await;

    let emails = vec!["Kim@Example.com".to_owned(), "fresh@example.com".to_owned()];
    let answer = e
        .engine
        .preregister_users(&admin, &emails, &ctx())
        .await
        .unwrap();
    assert_eq!(answer.len(), 2);
    let (known, fresh) = (&answer[0], &answer[1]);
    // The new account is real and a member; the existing one is not pulled in.
    let created = e.store.get_user(fresh.id).await.unwrap().unwrap();
    assert_eq!(&created, fresh);
    assert!(in_org(&e, fresh.id, &a).await);
    assert!(!has_membership(&e, kim.id, &a).await);
    assert!(
        e.engine
            .org_users(&admin, &[kim.id])
            .await
            .unwrap()
            .is_empty()
    );
    // The answer for the existing account is built from the request alone, like the new one's.
    assert_ne!(known.id, kim.id);
    assert!(e.store.get_user(known.id).await.unwrap().is_none());
    assert_eq!(known.email, "Kim@Example.com");
    assert_eq!(known.display_name, "Kim");
    assert_eq!(known.avatar_url, None);
    assert_eq!(known.created_at, fresh.created_at);
    assert_eq!(known.updated_at, fresh.updated_at);
    assert_eq!(
        (known.validated_at, known.deactivated, known.super_admin),
        (fresh.validated_at, fresh.deactivated, fresh.super_admin)
    );
    let invites = e.audit_events("org.invitation.create").await;
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0].target, Some(kim.id.to_string()));
    // Asking again changes nothing visible and still invites, still reveals nothing.
    let again = e
        .engine
        .preregister_users(&admin, &emails[..1], &ctx())
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, kim.id);
    assert!(!has_membership(&e, kim.id, &a).await);

    // Kim's next sign-in accepts: that very login can already act in the new org.
    let p = e
        .login("kim@example.com", OrgChoice::Specific(a.id))
        .await
        .principal;
    assert_eq!((p.user, p.org), (kim.id, a.id));
    let m = e.store.get_membership(kim.id, a.id).await.unwrap().unwrap();
    assert!(m.is_active() && !m.is_admin());
    assert_eq!(m.kind, MembershipKind::Member);
    assert!(in_org(&e, kim.id, &b).await);
    let accepted = e.audit_events("org.invitation.accept").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].actor, Some(kim.id));
    assert_eq!(accepted[0].target, Some(a.id.to_string()));
    // Now a member, Kim's real profile is visible to the org, as for any member.
    let seen = e.engine.org_users(&admin, &[kim.id]).await.unwrap();
    assert_eq!(seen.len(), 1);
    // Accepted once.
    e.login("kim@example.com", OrgChoice::Default).await;
    assert_eq!(e.audit_events("org.invitation.accept").await.len(), 1);
}

#[tokio::test]
async fn an_impersonation_accepts_nothing_for_the_user() {
    let e = env().await;
    let a = e.org("acme").await;
    let b = e.org("beta").await;
    e.user("root@example.com")
        .name("Root")
        .avatar(AVATAR)
        .super_admin()
        .member(&b, &[])
        .create()
        .await;
    let (kim, admin) = admin_and_kim(&e, &a, &b).await;
    e.engine
        .preregister_users(&admin, &["kim@example.com".to_owned()], &ctx())
        .await
        .unwrap();
    let g = e
        .proxy_grant("root@example.com", "kim@example.com")
        .await
        .unwrap();
    assert_eq!(g.user.id, kim.id);
    assert!(!has_membership(&e, kim.id, &a).await);
    // Kim's own sign-in still accepts.
    e.login("kim@example.com", OrgChoice::Default).await;
    assert!(in_org(&e, kim.id, &a).await);
}
