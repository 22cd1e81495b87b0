//! The unit of work (`Store::begin_write` / `WriteTx`): several writes commit together or not
//! at all.

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;
use serde_json::json;

use crate::common::*;

/// Who the composed writes touch: `joiner` joins the org, `leaver` leaves it, `revoked` loses
/// access there, `keyholder` loses every credential.
struct Cast {
    org: OrgId,
    joiner: User,
    leaver: User,
    revoked: User,
    keyholder: User,
    revoked_credential: CredentialId,
    keyholder_credential: CredentialId,
}

async fn cast(s: &dyn Store) -> Cast {
    let org = org(s, "acme").await;
    let joiner = s.create_user(new_user("joiner@x.io")).await.unwrap();
    let leaver = member(s, "leaver@x.io", org, &[]).await;
    let revoked = member(s, "revoked@x.io", org, &[]).await;
    let keyholder = member(s, "keyholder@x.io", org, &[]).await;
    s.create_session(session("s-revoked", revoked.id, org, t(3600)))
        .await
        .unwrap();
    let revoked_credential = credential(revoked.id, org, CredentialKind::ApiKey, 1, t(0));
    let keyholder_credential = credential(keyholder.id, org, CredentialKind::ApiKey, 2, t(0));
    for c in [&revoked_credential, &keyholder_credential] {
        s.create_credential(c.clone(), None).await.unwrap();
    }
    Cast {
        org,
        joiner,
        leaver,
        revoked,
        keyholder,
        revoked_credential: revoked_credential.id,
        keyholder_credential: keyholder_credential.id,
    }
}

fn identity(user: UserId) -> ExternalIdentity {
    ExternalIdentity {
        issuer: "https://idp.example".into(),
        subject: "joiner".into(),
        user_id: user,
        provider_alias: "okta".into(),
        created_at: t(1),
    }
}

fn audit_event() -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4(),
        at: t(5),
        actor: None,
        action: "unit.of.work".into(),
        target: None,
        outcome: AuditOutcome::Success,
        ip: None,
        request_id: None,
        detail: json!({}),
    }
}

/// Makes every composed write in `tx`, checking what each reports (a transaction sees its own
/// writes).
async fn compose(tx: &mut dyn WriteTx, c: &Cast) {
    let m = tx
        .upsert_membership(
            c.joiner.id,
            c.org,
            roles(&[Role::Executor]),
            MembershipKind::Member,
        )
        .await
        .unwrap();
    assert_eq!(m.user_id, c.joiner.id);
    tx.create_session(session("s-joiner", c.joiner.id, c.org, t(3600)))
        .await
        .unwrap();
    tx.touch_last_login(c.joiner.id, c.org, t(5)).await.unwrap();
    tx.link_external_identity(identity(c.joiner.id))
        .await
        .unwrap();
    tx.append_audit(&[audit_event()]).await.unwrap();
    // Plain data writes: they announce nothing.
    tx.mark_membership_removed(c.leaver.id, c.org, t(6))
        .await
        .unwrap();
    tx.set_membership_tokens_not_before(c.leaver.id, c.org, t(6))
        .await
        .unwrap();
    let revoked = tx
        .revoke_user_access(c.revoked.id, Some(c.org), None, t(6))
        .await
        .unwrap();
    assert_eq!(
        revoked,
        Deactivation {
            sessions_revoked: 1,
            credentials_revoked: 1,
        }
    );
    assert_eq!(
        tx.revoke_user_credentials(c.keyholder.id, None, t(6))
            .await
            .unwrap(),
        1
    );
    // The session created above, in this same transaction.
    assert_eq!(
        tx.revoke_user_sessions(c.joiner.id, None, t(7))
            .await
            .unwrap(),
        1
    );
    tx.append_revocation_events(&[RevocationEvent::Key("kid-uow".into())])
        .await
        .unwrap();
}

/// Whether the composed writes are visible, all of them or none of them.
async fn assert_composed(s: &dyn Store, c: &Cast, seq: i64, visible: bool) {
    let joined = s.get_membership(c.joiner.id, c.org).await.unwrap();
    assert_eq!(joined.is_some(), visible);
    if let Some(m) = joined {
        assert_eq!(m.last_login_at, Some(t(5)));
    }
    let session = s.get_session(&SessionId("s-joiner".into())).await.unwrap();
    assert_eq!(session.map(|s| s.revoked_at), visible.then_some(Some(t(7))));
    let linked = s
        .find_external_identity("https://idp.example", "joiner")
        .await
        .unwrap();
    assert_eq!(linked.is_some(), visible);
    let audited = s
        .list_audit(&AuditFilter {
            action: Some("unit.of.work".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), usize::from(visible));
    let left = s.get_membership(c.leaver.id, c.org).await.unwrap().unwrap();
    assert_eq!(left.removed_at.is_some(), visible);
    let cut = s.user_revocation_state(c.leaver.id, t(0)).await.unwrap();
    assert_eq!(cut.org_cutoffs.get(&c.org), visible.then_some(&t(6)));
    let old_session = s
        .get_session(&SessionId("s-revoked".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old_session.revoked_at.is_some(), visible);
    for id in [c.revoked_credential, c.keyholder_credential] {
        let cred = s.get_credential(id).await.unwrap().unwrap();
        assert_eq!(cred.revoked_at.is_some(), visible);
    }
    let events: Vec<RevocationEvent> = s
        .revocation_events_since(seq, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, ev)| ev)
        .collect();
    let expected = if visible {
        vec![
            RevocationEvent::User(c.joiner.id),
            RevocationEvent::User(c.revoked.id),
            RevocationEvent::User(c.keyholder.id),
            RevocationEvent::User(c.joiner.id),
            RevocationEvent::Key("kid-uow".into()),
        ]
    } else {
        Vec::new()
    };
    assert_eq!(events, expected, "events in write order, only on commit");
}

async fn feed_seq(s: &dyn Store) -> i64 {
    s.revocation_snapshot(t(0)).await.unwrap().seq
}

pub async fn unit_of_work_commit_persists_every_write(db: DbStore) {
    let s = dyn_store(&db);
    let c = cast(&*s).await;
    let seq = feed_seq(&*s).await;
    let mut tx = s.begin_write().await.unwrap();
    compose(&mut *tx, &c).await;
    // Nothing is visible to others before the commit.
    assert_composed(&*s, &c, seq, false).await;
    tx.commit().await.unwrap();
    assert_composed(&*s, &c, seq, true).await;
}

pub async fn unit_of_work_dropped_persists_nothing(db: DbStore) {
    let s = dyn_store(&db);
    let c = cast(&*s).await;
    let seq = feed_seq(&*s).await;
    let mut tx = s.begin_write().await.unwrap();
    compose(&mut *tx, &c).await;
    drop(tx);
    assert_composed(&*s, &c, seq, false).await;
    // The store takes writes again afterwards.
    s.touch_last_login(c.leaver.id, c.org, t(9)).await.unwrap();
}
