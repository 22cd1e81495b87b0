//! The back-channel logout outbox: every revocation of a grant session whose client has a
//! logout URI queues one notice in the same transaction, whichever path revoked it; notices are
//! claimed under a lease and finished as delivered, failed or given up.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use crate::common::*;

const URI: &str = "https://app.example/backchannel-logout";

/// An org with the clients `app` (wants logout notices) and `quiet` (does not).
async fn provider(s: &dyn Store) -> OrgId {
    let o = org(s, "acme").await;
    s.create_oauth_client(oauth_client("app", None, Some(URI)))
        .await
        .unwrap();
    s.create_oauth_client(oauth_client("quiet", None, None))
        .await
        .unwrap();
    o
}

/// A browser session `<p>-b` parenting `<p>-on` and `<p>-off` (offline) of `app` and
/// `<p>-quiet` of `quiet`; returns the browser session's id.
async fn with_grants(s: &dyn Store, user: UserId, o: OrgId, p: &str) -> SessionId {
    let b = format!("{p}-b");
    s.create_session(session(&b, user, o, t(3600)))
        .await
        .unwrap();
    for (suffix, client, offline) in [
        ("on", "app", false),
        ("off", "app", true),
        ("quiet", "quiet", false),
    ] {
        let id = format!("{p}-{suffix}");
        s.create_session(grant_session(&id, user, o, client, Some(&b), offline))
            .await
            .unwrap();
    }
    SessionId(b)
}

/// The `sid` of each of the app's notices for the user, oldest first.
async fn notified(s: &dyn Store, user: UserId) -> Vec<SessionId> {
    let mut sids: Vec<_> = s
        .list_logout_notices("app", 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.user_id == user)
        .map(|n| n.sid)
        .collect();
    sids.reverse();
    sids
}

async fn is_revoked(s: &dyn Store, id: &str) -> bool {
    let found = s.get_session(&SessionId(id.into())).await.unwrap();
    found.unwrap().revoked_at.is_some()
}

pub async fn logout_notices_from_session_and_user_revocations(db: DbStore) {
    let s = dyn_store(&db);
    let o = provider(&*s).await;
    let user = |email: &'static str| {
        let s = Arc::clone(&s);
        async move { member(&*s, email, o, &[]).await.id }
    };

    // Store::revoke_session of a browser session: its online grant session of `app`, with the
    // browser session as sid.
    let u1 = user("u1@x.io").await;
    let b1 = with_grants(&*s, u1, o, "u1").await;
    assert!(s.revoke_session(&b1, t(10)).await.unwrap());
    assert_eq!(notified(&*s, u1).await, vec![b1.clone()]);
    assert!(is_revoked(&*s, "u1-quiet").await);
    assert!(!is_revoked(&*s, "u1-off").await);
    // A grant session without a parent is its own sid; the notice is due at once.
    s.create_session(grant_session("solo", u1, o, "app", None, false))
        .await
        .unwrap();
    assert!(
        s.revoke_session(&SessionId("solo".into()), t(11))
            .await
            .unwrap()
    );
    let newest = s.list_logout_notices("app", 1).await.unwrap();
    assert_eq!(
        newest,
        vec![LogoutNotice {
            id: newest[0].id,
            client_id: "app".into(),
            uri: URI.into(),
            user_id: u1,
            sid: SessionId("solo".into()),
            created_at: t(11),
            attempts: 0,
            next_attempt_at: t(11),
            delivered_at: None,
            last_error: None,
        }]
    );
    // A revocation that ends nothing queues nothing.
    assert!(
        !s.revoke_session(&SessionId("solo".into()), t(12))
            .await
            .unwrap()
    );
    assert_eq!(notified(&*s, u1).await.len(), 2);

    // WriteTx::revoke_session: only on commit.
    let u2 = user("u2@x.io").await;
    let b2 = with_grants(&*s, u2, o, "u2").await;
    let mut tx = s.begin_write().await.unwrap();
    assert!(tx.revoke_session(&b2, t(10)).await.unwrap());
    drop(tx);
    assert!(notified(&*s, u2).await.is_empty());
    let mut tx = s.begin_write().await.unwrap();
    assert!(tx.revoke_session(&b2, t(10)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(notified(&*s, u2).await, vec![b2.clone()]);

    // Store::revoke_user_sessions: every grant session of the user, offline ones too.
    let u3 = user("u3@x.io").await;
    let b3 = with_grants(&*s, u3, o, "u3").await;
    assert_eq!(s.revoke_user_sessions(u3, None, t(10)).await.unwrap(), 4);
    assert_eq!(notified(&*s, u3).await, vec![b3.clone(), b3.clone()]);
    assert!(is_revoked(&*s, "u3-quiet").await);

    // WriteTx::revoke_user_sessions, keeping the browser session: its grant sessions still end.
    let u4 = user("u4@x.io").await;
    let b4 = with_grants(&*s, u4, o, "u4").await;
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.revoke_user_sessions(u4, Some(&b4), t(10)).await.unwrap(),
        3
    );
    tx.commit().await.unwrap();
    assert_eq!(notified(&*s, u4).await, vec![b4.clone(), b4.clone()]);
    assert!(!is_revoked(&*s, "u4-b").await);

    // WriteTx::revoke_user_access everywhere (deactivating the user) and in one org (removing
    // the membership).
    let u5 = user("u5@x.io").await;
    let b5 = with_grants(&*s, u5, o, "u5").await;
    let d = deactivate_user(&*s, u5, t(10)).await.unwrap();
    assert_eq!(d.sessions_revoked, 4);
    assert_eq!(notified(&*s, u5).await, vec![b5.clone(), b5.clone()]);
    let u6 = user("u6@x.io").await;
    let b6 = with_grants(&*s, u6, o, "u6").await;
    let d = remove_member(&*s, u6, o, t(10)).await.unwrap();
    assert_eq!(d.sessions_revoked, 4);
    assert_eq!(notified(&*s, u6).await, vec![b6.clone(), b6.clone()]);

    // The password-reset paths: requiring a reset, then redeeming it.
    let u7 = user("u7@x.io").await;
    let b7 = with_grants(&*s, u7, o, "u7").await;
    let d = s
        .require_password_reset(u7, &[7; 32], t(100), false, t(10))
        .await
        .unwrap();
    assert_eq!(d.sessions_revoked, 4);
    assert_eq!(notified(&*s, u7).await, vec![b7.clone(), b7.clone()]);
    let b7b = with_grants(&*s, u7, o, "u7b").await;
    let ended = s
        .redeem_password_reset(u7, &[7; 32], "$argon2id$new", t(20))
        .await
        .unwrap();
    assert_eq!(ended, Some(4));
    assert_eq!(
        notified(&*s, u7).await,
        vec![b7.clone(), b7, b7b.clone(), b7b]
    );

    // `quiet` has no logout URI: its sessions ended on every path, without a notice.
    assert!(
        s.list_logout_notices("quiet", 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn logout_notices_from_client_revocations(db: DbStore) {
    let s = dyn_store(&db);
    let o = provider(&*s).await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let v = member(&*s, "v@x.io", o, &[]).await;
    let b = with_grants(&*s, u.id, o, "u").await;
    let bv = with_grants(&*s, v.id, o, "v").await;
    s.create_session(grant_session("u-solo", u.id, o, "app", None, true))
        .await
        .unwrap();

    // Disabling a client ends every live grant session of it, each announced and notified.
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert_eq!(s.revoke_client_sessions("app", t(10)).await.unwrap(), 5);
    let ids = ["u-off", "u-on", "u-solo", "v-off", "v-on"];
    assert_eq!(
        events_after(&*s, seq).await,
        ids.map(|id| RevocationEvent::Session(SessionId(id.into())))
    );
    let sids: BTreeSet<_> = s
        .list_logout_notices("app", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.sid.0)
        .collect();
    assert_eq!(
        sids,
        BTreeSet::from(["u-b".into(), "u-solo".into(), "v-b".into()])
    );
    assert_eq!(s.list_logout_notices("app", 100).await.unwrap().len(), 5);
    assert_eq!(s.revoke_client_sessions("app", t(11)).await.unwrap(), 0);
    assert!(
        !is_revoked(&*s, "u-b").await,
        "browser sessions are not the client's"
    );
    assert_eq!(s.revoke_client_sessions("quiet", t(11)).await.unwrap(), 2);
    assert!(
        s.list_logout_notices("quiet", 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting a client: its grants go, its live sessions end with their notices, in one
    // transaction; the notices outlive the client.
    let g = grant_session("u-again", u.id, o, "app", Some(&b.0), false);
    s.create_session(g.clone()).await.unwrap();
    s.insert_authorization_code(auth_code("code", "app", &b.0, u.id, o))
        .await
        .unwrap();
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_refresh_token(refresh_token("rt", &g, t(100)))
        .await
        .unwrap();
    tx.upsert_consent(Consent {
        user_id: u.id,
        client_id: "app".into(),
        scopes: ["openid".to_string()].into(),
        granted_at: t(1),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert!(s.delete_oauth_client("app", t(20)).await.unwrap());
    assert_eq!(
        events_after(&*s, seq).await,
        vec![
            RevocationEvent::Session(g.id.clone()),
            RevocationEvent::Client("app".into())
        ]
    );
    assert_eq!(s.get_oauth_client("app").await.unwrap(), None);
    assert_eq!(s.get_refresh_token("rt").await.unwrap(), None);
    assert_eq!(s.get_consent(u.id, "app").await.unwrap(), None);
    let newest = s.list_logout_notices("app", 1).await.unwrap();
    assert_eq!(
        (newest[0].sid.clone(), newest[0].created_at),
        (b.clone(), t(20))
    );
    assert!(!s.delete_oauth_client("app", t(21)).await.unwrap());
    assert!(!s.delete_oauth_client("nope", t(21)).await.unwrap());
    // The id is free again, and the code did not survive.
    s.create_oauth_client(oauth_client("app", None, Some(URI)))
        .await
        .unwrap();
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.redeem_authorization_code("code", t(22)).await.unwrap(),
        CodeRedemption::Unknown
    );
    drop(tx);
    assert_eq!(s.list_logout_notices("app", 100).await.unwrap().len(), 6);
    assert!(!is_revoked(&*s, &bv.0).await);
}

/// Queues one notice per id, each revoked at t(10 + i).
async fn queue(s: &dyn Store, o: OrgId, user: UserId, ids: &[&str]) {
    for (i, id) in (10..).zip(ids) {
        s.create_session(grant_session(id, user, o, "app", None, false))
            .await
            .unwrap();
        assert!(
            s.revoke_session(&SessionId(id.to_string()), t(i))
                .await
                .unwrap()
        );
    }
}

fn sids(notices: &[LogoutNotice]) -> Vec<&str> {
    notices.iter().map(|n| n.sid.0.as_str()).collect()
}

pub async fn logout_notice_claims_are_leased(db: DbStore) {
    let s = dyn_store(&db);
    let o = provider(&*s).await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    queue(&*s, o, u.id, &["n1", "n2", "n3"]).await;

    // Oldest first, up to the limit; a claimed notice is leased.
    let first = s.claim_logout_notices(t(20), 60, 2).await.unwrap();
    assert_eq!(sids(&first), ["n1", "n2"]);
    assert!(first.iter().all(|n| n.next_attempt_at == t(80)));
    assert_eq!(
        sids(&s.claim_logout_notices(t(20), 60, 10).await.unwrap()),
        ["n3"]
    );
    assert!(
        s.claim_logout_notices(t(79), 60, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // After the lease, concurrent claimers share the notices without overlap.
    let claims: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.claim_logout_notices(t(80), 60, 1).await.unwrap() })
        })
        .collect();
    let mut claimed = Vec::new();
    for c in claims {
        claimed.extend(c.await.unwrap().into_iter().map(|n| n.sid.0));
    }
    claimed.sort();
    assert_eq!(claimed, ["n1", "n2", "n3"]);
    assert!(
        s.claim_logout_notices(t(80), 60, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Delivered, failed with a retry, failed for good.
    let all = s.list_logout_notices("app", 10).await.unwrap();
    assert_eq!(sids(&all), ["n3", "n2", "n1"], "newest first");
    let (n3, n2, n1) = (all[0].id, all[1].id, all[2].id);
    s.finish_logout_notice(n1, NoticeOutcome::Delivered, t(85))
        .await
        .unwrap();
    let retry = NoticeOutcome::Failed {
        error: "HTTP 503".into(),
        retry_at: Some(t(200)),
    };
    s.finish_logout_notice(n2, retry, t(86)).await.unwrap();
    let give_up = NoticeOutcome::Failed {
        error: "HTTP 404".into(),
        retry_at: None,
    };
    s.finish_logout_notice(n3, give_up, t(87)).await.unwrap();
    let all = s.list_logout_notices("app", 10).await.unwrap();
    let state = |n: &LogoutNotice| {
        (
            n.attempts,
            n.next_attempt_at,
            n.delivered_at,
            n.last_error.clone(),
        )
    };
    assert_eq!(state(&all[2]), (0, t(140), Some(t(85)), None));
    assert_eq!(state(&all[1]), (1, t(200), None, Some("HTTP 503".into())));
    assert_eq!(state(&all[0]), (1, t(140), None, Some("HTTP 404".into())));
    assert!(
        s.claim_logout_notices(t(199), 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_logout_notices(t(1000), 60, 10).await.unwrap();
    assert_eq!(
        sids(&again),
        ["n2"],
        "delivered and given-up notices are done"
    );

    // A delivery keeps its first time, and a late failure does not undo it.
    s.finish_logout_notice(n1, NoticeOutcome::Delivered, t(300))
        .await
        .unwrap();
    let late = NoticeOutcome::Failed {
        error: "timeout".into(),
        retry_at: Some(t(400)),
    };
    s.finish_logout_notice(n1, late, t(301)).await.unwrap();
    let all = s.list_logout_notices("app", 10).await.unwrap();
    assert_eq!(state(&all[2]), (0, t(140), Some(t(85)), None));
    assert!(matches!(
        s.finish_logout_notice(uuid::Uuid::new_v4(), NoticeOutcome::Delivered, t(1)).await,
        Err(StoreError::NotFound(m)) if m == "unknown logout notice"
    ));
    assert_eq!(
        sids(&s.list_logout_notices("app", 2).await.unwrap()),
        ["n3", "n2"]
    );
}
