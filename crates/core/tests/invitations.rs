//! Preregistration of an existing account (issue 15 item 3): a pending invitation, not a
//! membership, accepted at the account's next sign-in; the answer does not reveal that the
//! account existed. On a real SQLite store.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::store::Store;
use portcullis_core::tokens::Principal;
use portcullis_core::*;

const PW: &str = "a perfectly fine passphrase";

struct Env {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let store = portcullis_store::open(&path.to_string_lossy())
        .await
        .unwrap();
    let cfg = CoreConfig {
        allowed_email_domains: vec!["example.com".into()],
        ..CoreConfig::default()
    };
    store.upsert_region(cfg.region.clone()).await.unwrap();
    let engine = Engine::start(store.clone(), cfg, MasterKey::generate())
        .await
        .unwrap();
    Env {
        engine,
        store,
        _dir: dir,
    }
}

fn ctx() -> AuditContext {
    AuditContext::default()
}

impl Env {
    async fn org(&self, name: &str) -> Org {
        self.store
            .create_org(NewOrg {
                name: name.into(),
                display_name: None,
                region_id: "local".into(),
            })
            .await
            .unwrap()
    }

    async fn user(
        &self,
        email: &str,
        name: &str,
        super_admin: bool,
        org: &Org,
        admin: bool,
    ) -> User {
        let hash = self.engine.hasher().hash(PW).await.unwrap();
        let user = self
            .store
            .create_user(NewUser {
                email: email.into(),
                display_name: name.into(),
                avatar_url: Some("https://cdn.example.com/kim.png".into()),
                password_hash: Some(hash),
                validated_at: None,
                super_admin,
            })
            .await
            .unwrap();
        let roles = if admin {
            BTreeSet::from([Role::Admin])
        } else {
            BTreeSet::new()
        };
        self.store
            .upsert_membership(user.id, org.id, roles, MembershipKind::Member)
            .await
            .unwrap();
        user
    }

    async fn sign_in(&self, email: &str, choice: OrgChoice) -> CoreResult<Principal> {
        let g = self
            .engine
            .login_password(email, PW, choice, None, &ctx())
            .await?;
        Ok(self.engine.authenticate(&g.token.token).await.unwrap())
    }

    async fn in_org(&self, user: UserId, org: &Org) -> bool {
        self.store
            .get_membership(user, org.id)
            .await
            .unwrap()
            .is_some_and(|m| m.is_active())
    }

    async fn audited(&self, action: &str) -> Vec<AuditEvent> {
        self.engine.flush_audit().await;
        self.store
            .list_audit(&AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|ev| ev.action == action)
            .collect()
    }
}

#[tokio::test]
async fn an_existing_account_is_invited_and_joins_at_its_next_sign_in() {
    let e = env().await;
    let a = e.org("acme").await;
    let b = e.org("beta").await;
    e.user("admin@example.com", "Ada Admin", false, &a, true)
        .await;
    let kim = e
        .user("kim@example.com", "Kim Known", false, &b, false)
        .await;
    let admin = e
        .sign_in("admin@example.com", OrgChoice::Specific(a.id))
        .await
        .unwrap();

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
    assert!(e.in_org(fresh.id, &a).await);
    assert!(
        e.store
            .get_membership(kim.id, a.id)
            .await
            .unwrap()
            .is_none()
    );
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
    let invites = e.audited("org.invitation.create").await;
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
    assert!(
        e.store
            .get_membership(kim.id, a.id)
            .await
            .unwrap()
            .is_none()
    );

    // Kim's next sign-in accepts: that very login can already act in the new org.
    let p = e
        .sign_in("kim@example.com", OrgChoice::Specific(a.id))
        .await
        .unwrap();
    assert_eq!((p.user, p.org), (kim.id, a.id));
    let m = e.store.get_membership(kim.id, a.id).await.unwrap().unwrap();
    assert!(m.is_active() && !m.is_admin());
    assert_eq!(m.kind, MembershipKind::Member);
    assert!(e.in_org(kim.id, &b).await);
    let accepted = e.audited("org.invitation.accept").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].actor, Some(kim.id));
    assert_eq!(accepted[0].target, Some(a.id.to_string()));
    // Now a member, Kim's real profile is visible to the org, as for any member.
    let seen = e.engine.org_users(&admin, &[kim.id]).await.unwrap();
    assert_eq!(seen.len(), 1);
    // Accepted once.
    e.sign_in("kim@example.com", OrgChoice::Default)
        .await
        .unwrap();
    assert_eq!(e.audited("org.invitation.accept").await.len(), 1);
}

#[tokio::test]
async fn an_impersonation_accepts_nothing_for_the_user() {
    let e = env().await;
    let a = e.org("acme").await;
    let b = e.org("beta").await;
    e.user("root@example.com", "Root", true, &b, false).await;
    e.user("admin@example.com", "Ada Admin", false, &a, true)
        .await;
    let kim = e
        .user("kim@example.com", "Kim Known", false, &b, false)
        .await;
    let admin = e
        .sign_in("admin@example.com", OrgChoice::Specific(a.id))
        .await
        .unwrap();
    e.engine
        .preregister_users(&admin, &["kim@example.com".to_owned()], &ctx())
        .await
        .unwrap();
    let g = e
        .engine
        .login_password(
            "root@example.com",
            PW,
            OrgChoice::Default,
            Some("kim@example.com"),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(g.user.id, kim.id);
    assert!(
        e.store
            .get_membership(kim.id, a.id)
            .await
            .unwrap()
            .is_none()
    );
    // Kim's own sign-in still accepts.
    e.sign_in("kim@example.com", OrgChoice::Default)
        .await
        .unwrap();
    assert!(e.in_org(kim.id, &a).await);
}
