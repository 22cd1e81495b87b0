//! The core's use cases decide what a removal, a deactivation or a disabled org revokes, and
//! write it in one unit with the change and its audit record: on SQLite and on PostgreSQL
//! (when PORTCULLIS_TEST_POSTGRES_URL is set).

use std::collections::BTreeSet;

use portcullis_core::engine::OrgChoice;
use portcullis_core::federated_accounts::{ClaimedMemberships, Upstream};
use portcullis_core::store::{Deactivation, PreregisterTerms, Preregistered, Store, StoreError};
use portcullis_core::use_cases::{self, UseCaseCtx};
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx};
use serde_json::json;

/// Runs `case` on SQLite, then on PostgreSQL when a server is configured.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(portcullis_testkit::TestEnv::new().await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                if std::env::var("PORTCULLIS_TEST_POSTGRES_URL").is_err() {
                    eprintln!("NOTICE: PORTCULLIS_TEST_POSTGRES_URL unset, skipping");
                    return;
                }
                let env = portcullis_testkit::TestEnv::builder().postgres().build().await;
                assert!(env.is_postgres());
                super::$name(env).await;
            })*
        }
    };
}

on_both_backends!(
    removal_revokes_in_that_org_only,
    membership_deactivation_revokes_in_that_org_only,
    user_deactivation_revokes_everywhere,
    disabling_an_org_cuts_its_tokens_off_once,
    a_failed_unit_writes_nothing,
    federation_sync_writes_its_changes_in_one_unit,
    a_failed_federation_sync_writes_nothing,
);

/// Ann, a member of `a` and `b`, signed in to each with an API key in each.
struct Cast {
    a: Org,
    b: Org,
    ann: User,
    session_a: String,
    session_b: String,
    key_a: Credential,
    key_b: Credential,
}

async fn cast(env: &TestEnv) -> Cast {
    let a = env.org("a").await;
    let b = env.org("b").await;
    let ann = env
        .user("ann@example.com")
        .member(&a, &[Role::Author])
        .member(&b, &[Role::Author])
        .create()
        .await;
    let (session_a, key_a) = signed_in(env, &ann, a.id).await;
    let (session_b, key_b) = signed_in(env, &ann, b.id).await;
    Cast {
        a,
        b,
        ann,
        session_a,
        session_b,
        key_a,
        key_b,
    }
}

/// A session token in `org` and an API key made with it.
async fn signed_in(env: &TestEnv, user: &User, org: OrgId) -> (String, Credential) {
    let token = env.session(user, OrgChoice::Specific(org)).await;
    let p = env.engine.authenticate(&token).await.unwrap();
    assert_eq!(p.org, org);
    let (key, _) = env
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    (token, key)
}

/// The server's use case context: audited straight to the store, the view refreshed at once.
fn server(env: &TestEnv) -> UseCaseCtx<'_> {
    UseCaseCtx {
        revocations: Some(env.engine.revocations()),
        ..UseCaseCtx::direct(env.store.as_ref())
    }
}

async fn accepted(env: &TestEnv, token: &str) -> bool {
    env.engine.authenticate(token).await.is_ok()
}

async fn revoked(store: &dyn Store, key: &Credential) -> bool {
    let stored = store.get_credential(key.id).await.unwrap().unwrap();
    stored.revoked_at.is_some()
}

async fn feed_seq(store: &dyn Store) -> i64 {
    store
        .revocation_snapshot(chrono::Utc::now())
        .await
        .unwrap()
        .seq
}

async fn events_since(store: &dyn Store, seq: i64) -> Vec<RevocationEvent> {
    let events = store.revocation_events_since(seq, 100).await.unwrap();
    events.into_iter().map(|(_, ev)| ev).collect()
}

async fn audited(store: &dyn Store, action: &str) -> Vec<AuditEvent> {
    store
        .list_audit(&AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Whether the user's tokens for `org` issued a second ago are refused by the stored cut-off.
async fn cut_off(store: &dyn Store, user: UserId, org: OrgId) -> bool {
    let state = store
        .user_revocation_state(user, chrono::Utc::now())
        .await
        .unwrap();
    state.org_cutoffs.contains_key(&org)
}

fn one_each() -> Deactivation {
    Deactivation {
        sessions_revoked: 1,
        credentials_revoked: 1,
    }
}

async fn removal_revokes_in_that_org_only(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    // A pending invitation to the org, which the removal must revoke too.
    let c_org = env.org("c").await;
    let terms = PreregisterTerms {
        roles: BTreeSet::new(),
        kind: MembershipKind::Member,
        invited_by: None,
        expires_at: chrono::Utc::now() + chrono::Duration::days(1),
    };
    let new = NewUser {
        email: c.ann.email.clone(),
        display_name: "ann".into(),
        avatar_url: None,
        password_hash: None,
        validated_at: None,
        super_admin: false,
    };
    let out = store
        .preregister_users(c_org.id, vec![new], &terms)
        .await
        .unwrap();
    assert!(matches!(out[0], Preregistered::Invited(_)));
    env.join(&c.ann, &c_org, &[], MembershipKind::Member).await;
    let (session_c, key_c) = signed_in(&env, &c.ann, c_org.id).await;
    let seq = feed_seq(store).await;

    let d = use_cases::remove_membership(&server(&env), c.ann.id, c_org.id, json!({}))
        .await
        .unwrap();
    assert_eq!(d, one_each());
    assert!(!accepted(&env, &session_c).await);
    assert!(revoked(store, &key_c).await);
    let invitation = store.get_invitation(c_org.id, c.ann.id).await.unwrap();
    assert!(invitation.unwrap().revoked_at.is_some());
    let m = store.get_membership(c.ann.id, c_org.id).await.unwrap();
    assert!(m.unwrap().removed_at.is_some());
    assert!(cut_off(store, c.ann.id, c_org.id).await);
    assert_eq!(
        events_since(store, seq).await,
        vec![RevocationEvent::User(c.ann.id)]
    );
    let audit = audited(store, "membership.remove").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, AuditOutcome::Success);
    assert_eq!(
        audit[0].target.as_deref(),
        Some(format!("{}/{}", c_org.id, c.ann.id).as_str())
    );
    // The other orgs' sessions and keys survive.
    for (token, key) in [(&c.session_a, &c.key_a), (&c.session_b, &c.key_b)] {
        assert!(accepted(&env, token).await);
        assert!(!revoked(store, key).await);
    }
    assert!(!cut_off(store, c.ann.id, c.a.id).await);
}

async fn membership_deactivation_revokes_in_that_org_only(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    let seq = feed_seq(store).await;
    use_cases::set_membership_deactivated(&server(&env), c.ann.id, c.a.id, true, json!({}))
        .await
        .unwrap();
    assert!(!accepted(&env, &c.session_a).await);
    assert!(revoked(store, &c.key_a).await);
    assert!(accepted(&env, &c.session_b).await);
    assert!(!revoked(store, &c.key_b).await);
    assert!(cut_off(store, c.ann.id, c.a.id).await);
    assert!(!cut_off(store, c.ann.id, c.b.id).await);
    assert_eq!(
        events_since(store, seq).await,
        vec![RevocationEvent::User(c.ann.id)]
    );
    let audit = audited(store, "membership.deactivate").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail["sessions"], json!(1));
    assert_eq!(audit[0].detail["credentials"], json!(1));
    // Reactivated: the cut-off stays, the old session stays ended.
    use_cases::set_membership_deactivated(&server(&env), c.ann.id, c.a.id, false, json!({}))
        .await
        .unwrap();
    assert!(cut_off(store, c.ann.id, c.a.id).await);
    assert!(!accepted(&env, &c.session_a).await);
}

async fn user_deactivation_revokes_everywhere(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    let d = use_cases::deactivate_user(&server(&env), c.ann.id, json!({}))
        .await
        .unwrap();
    assert_eq!(
        d,
        Deactivation {
            sessions_revoked: 2,
            credentials_revoked: 2,
        }
    );
    for (token, key) in [(&c.session_a, &c.key_a), (&c.session_b, &c.key_b)] {
        assert!(!accepted(&env, token).await);
        assert!(revoked(store, key).await);
    }
    assert!(store.get_user(c.ann.id).await.unwrap().unwrap().deactivated);
    let audit = audited(store, "user.deactivate").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, AuditOutcome::Success);
}

async fn disabling_an_org_cuts_its_tokens_off_once(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    let seq = feed_seq(store).await;
    let org = use_cases::set_org_disabled(&server(&env), c.a.id, true, json!({}))
        .await
        .unwrap();
    assert!(org.disabled);
    let state = store.org_revocation_state(c.a.id).await.unwrap();
    let cut = state.tokens_not_before.expect("a cut-off");
    assert!(!accepted(&env, &c.session_a).await);
    assert!(accepted(&env, &c.session_b).await);
    assert_eq!(
        events_since(store, seq).await,
        vec![RevocationEvent::Org(c.a.id)]
    );
    // Disabling again keeps the first cut-off; enabling keeps it too.
    for disabled in [true, false] {
        use_cases::set_org_disabled(&server(&env), c.a.id, disabled, json!({}))
            .await
            .unwrap();
        let state = store.org_revocation_state(c.a.id).await.unwrap();
        assert_eq!(state.tokens_not_before, Some(cut));
    }
    assert!(
        !accepted(&env, &c.session_a).await,
        "issued before the cut-off"
    );
    assert_eq!(audited(store, "org.disable").await.len(), 2);
    assert_eq!(audited(store, "org.enable").await.len(), 1);
}

async fn a_failed_unit_writes_nothing(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    let outsider = env.user("bob@example.com").create().await;
    let seq = feed_seq(store).await;
    // An unknown membership: refused, nothing revoked.
    let gone = use_cases::remove_membership(&server(&env), outsider.id, c.a.id, json!({})).await;
    assert!(matches!(
        gone,
        Err(CoreError::Store(StoreError::NotFound(_)))
    ));
    // Mid-unit: Ann's access in `a` is revoked, then removing Bob from `a` fails.
    let (a, ann, bob) = (c.a.id, c.ann.id, outsider.id);
    let failed = server(&env)
        .in_unit(
            AuditAction::MembershipRemove,
            None,
            json!({}),
            move |tx| {
                Box::pin(async move {
                    tx.revoke_user_access(ann, Some(a), None, chrono::Utc::now())
                        .await?;
                    use_cases::remove_membership_in(tx, bob, a, chrono::Utc::now()).await
                })
            },
            |_| json!({}),
        )
        .await;
    assert!(failed.is_err());
    assert!(accepted(&env, &c.session_a).await);
    assert!(!revoked(store, &c.key_a).await);
    assert!(events_since(store, seq).await.is_empty());
    let audit = audited(store, "membership.remove").await;
    assert_eq!(audit.len(), 2, "the failures only");
    assert!(audit.iter().all(|e| e.outcome == AuditOutcome::Failure));
}

const UPSTREAM: Upstream<'static> = Upstream {
    provider: "idp",
    subject: "ann",
};

/// Lets the provider's claims add Ann to any org.
async fn allow_example_com(store: &dyn Store) {
    let entry = AllowlistEntry {
        org_id: None,
        kind: AllowlistKind::Domain,
        value: "example.com".into(),
        created_at: chrono::Utc::now(),
    };
    store.add_allowlist(entry).await.unwrap();
}

/// Claims granting `desired` (as members with no roles), the provider managing `a` and `b`.
fn claims(c: &Cast, desired: &[OrgId]) -> ClaimedMemberships {
    ClaimedMemberships {
        desired: desired
            .iter()
            .map(|o| (*o, (BTreeSet::new(), MembershipKind::Member)))
            .collect(),
        managed: BTreeSet::from([c.a.id, c.b.id]),
    }
}

async fn federation_sync_writes_its_changes_in_one_unit(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    let joined = env.org("joined").await;
    allow_example_com(store).await;
    let claimed = claims(&c, &[c.a.id, joined.id]);
    env.engine
        .sync_claimed_memberships(&c.ann, &claimed, UPSTREAM, &ctx())
        .await
        .unwrap();
    // `a` is updated (its roles change), `joined` added, `b` removed with what Ann held there.
    let a = store.get_membership(c.ann.id, c.a.id).await.unwrap();
    assert!(a.unwrap().roles.is_empty());
    let added = store.get_membership(c.ann.id, joined.id).await.unwrap();
    assert!(added.is_some_and(|m| m.removed_at.is_none()));
    let b = store.get_membership(c.ann.id, c.b.id).await.unwrap();
    assert!(b.unwrap().removed_at.is_some());
    assert!(!accepted(&env, &c.session_b).await);
    assert!(revoked(store, &c.key_b).await);
    assert!(cut_off(store, c.ann.id, c.b.id).await);
    assert!(accepted(&env, &c.session_a).await);
    assert_eq!(env.audit_events("federation.sync").await.len(), 1);
}

async fn a_failed_federation_sync_writes_nothing(env: TestEnv) {
    let c = cast(&env).await;
    let store = env.store.as_ref();
    let joined = env.org("joined").await;
    allow_example_com(store).await;
    let seq = feed_seq(store).await;
    // The unknown org sorts last: `joined` is written first, then the unit fails.
    let unknown = OrgId(uuid::Uuid::max());
    let claimed = claims(&c, &[c.a.id, joined.id, unknown]);
    let failed = env
        .engine
        .sync_claimed_memberships(&c.ann, &claimed, UPSTREAM, &ctx())
        .await;
    assert!(matches!(
        failed,
        Err(CoreError::Store(StoreError::NotFound(_)))
    ));
    let added = store.get_membership(c.ann.id, joined.id).await.unwrap();
    assert!(added.is_none());
    let a = store.get_membership(c.ann.id, c.a.id).await.unwrap();
    assert_eq!(a.unwrap().roles, BTreeSet::from([Role::Author]));
    let b = store.get_membership(c.ann.id, c.b.id).await.unwrap();
    assert!(b.unwrap().removed_at.is_none());
    assert!(accepted(&env, &c.session_b).await);
    assert!(events_since(store, seq).await.is_empty());
    assert!(env.audit_events("federation.sync").await.is_empty());
}
