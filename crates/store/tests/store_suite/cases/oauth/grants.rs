//! Authorization codes and refresh tokens (single use, also under races), refresh families,
//! and grant sessions: their round trip and the cascade from the browser session.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use super::signed_in;
use crate::common::*;

async fn redeem(s: &dyn Store, code_hash: &str, now: i64) -> CodeRedemption {
    let mut tx = s.begin_write().await.unwrap();
    let found = tx
        .redeem_authorization_code(code_hash, t(now))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    found
}

async fn rotate(s: &dyn Store, token_hash: &str, now: i64) -> RefreshRedemption {
    let mut tx = s.begin_write().await.unwrap();
    let found = tx.rotate_refresh_token(token_hash, t(now)).await.unwrap();
    tx.commit().await.unwrap();
    found
}

/// Runs `n` concurrent units of `attempt`, each holding its transaction open a moment after its
/// write so the others meet it; returns what each found.
async fn race<T: Send + 'static>(
    s: &Arc<dyn Store>,
    n: usize,
    attempt: fn(&mut dyn WriteTx) -> UnitFuture<'_, T>,
) -> Vec<T> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let s = Arc::clone(s);
            tokio::spawn(async move {
                let mut tx = s.begin_write().await.unwrap();
                let found = attempt(&mut *tx).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                tx.commit().await.unwrap();
                found
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

type UnitFuture<'t, T> = portcullis_core::use_cases::UnitWrites<'t, T>;

pub async fn oauth_codes_single_use(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    let code = auth_code("c1", "app", "b", u.id, o);
    s.insert_authorization_code(code.clone()).await.unwrap();
    assert!(matches!(
        s.insert_authorization_code(code.clone()).await,
        Err(StoreError::Conflict(m)) if m == "authorization code already exists"
    ));
    assert!(matches!(
        s.insert_authorization_code(auth_code("c9", "nope", "b", u.id, o)).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));
    assert!(matches!(
        s.insert_authorization_code(auth_code("c9", "app", "nope", u.id, o)).await,
        Err(StoreError::NotFound(m)) if m == "unknown session"
    ));

    // A redemption rolled back consumes nothing.
    let mut tx = s.begin_write().await.unwrap();
    assert!(matches!(
        tx.redeem_authorization_code("c1", t(4)).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    drop(tx);

    let consumed = AuthorizationCode {
        consumed_at: Some(t(5)),
        ..code.clone()
    };
    assert_eq!(
        redeem(&*s, "c1", 5).await,
        CodeRedemption::Redeemed(consumed.clone())
    );
    let mut tx = s.begin_write().await.unwrap();
    tx.set_code_grant_session("c1", &SessionId("g1".into()))
        .await
        .unwrap();
    assert!(matches!(
        tx.set_code_grant_session("c9", &SessionId("g1".into())).await,
        Err(StoreError::NotFound(m)) if m == "unknown authorization code"
    ));
    drop(tx); // a failed write: the unit is dropped
    let mut tx = s.begin_write().await.unwrap();
    tx.set_code_grant_session("c1", &SessionId("g1".into()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A replay finds the code used, with the session it started (to end it).
    assert_eq!(
        redeem(&*s, "c1", 6).await,
        CodeRedemption::AlreadyUsed(AuthorizationCode {
            grant_session: Some(SessionId("g1".into())),
            ..consumed
        })
    );
    assert_eq!(redeem(&*s, "c9", 6).await, CodeRedemption::Unknown);
}

pub async fn oauth_code_redemption_race(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    s.insert_authorization_code(auth_code("c1", "app", "b", u.id, o))
        .await
        .unwrap();
    let found = race(&s, 8, |tx| {
        Box::pin(tx.redeem_authorization_code("c1", t(5)))
    })
    .await;
    let redeemed = found
        .iter()
        .filter(|f| matches!(f, CodeRedemption::Redeemed(_)))
        .count();
    let replays = found
        .iter()
        .filter(|f| matches!(f, CodeRedemption::AlreadyUsed(c) if c.consumed_at == Some(t(5))))
        .count();
    assert_eq!((redeemed, replays), (1, 7), "{found:?}");
}

pub async fn oauth_refresh_rotation_and_family(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    let g = grant_session("g", u.id, o, "app", Some("b"), true);
    let other = grant_session("h", u.id, o, "app", Some("b"), true);
    for x in [&g, &other] {
        s.create_session(x.clone()).await.unwrap();
    }
    let r1 = refresh_token("r1", &g, t(100));
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_refresh_token(r1.clone()).await.unwrap();
    tx.insert_refresh_token(refresh_token("h1", &other, t(100)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for (bad, rule) in [
        (r1.clone(), "refresh token already exists"),
        (
            refresh_token("r9", &session("nope", u.id, o, t(1)), t(100)),
            "unknown oauth client",
        ),
        (
            refresh_token(
                "r9",
                &grant_session("nope", u.id, o, "app", None, true),
                t(100),
            ),
            "unknown session",
        ),
    ] {
        let mut tx = s.begin_write().await.unwrap();
        let err = tx.insert_refresh_token(bad).await.unwrap_err();
        assert_eq!(err.to_string().split(": ").nth(1), Some(rule), "{err}");
    }
    assert_eq!(s.get_refresh_token("r1").await.unwrap(), Some(r1.clone()));
    assert_eq!(s.get_refresh_token("r9").await.unwrap(), None);

    // Rotation: the current token once, then reuse.
    let rotated = RefreshToken {
        rotated_at: Some(t(10)),
        ..r1.clone()
    };
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.rotate_refresh_token("r1", t(10)).await.unwrap(),
        RefreshRedemption::Current(rotated.clone())
    );
    tx.insert_refresh_token(refresh_token("r2", &g, t(100)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        rotate(&*s, "r1", 11).await,
        RefreshRedemption::Reused(rotated.clone())
    );
    assert_eq!(rotate(&*s, "r9", 11).await, RefreshRedemption::Unknown);

    // Racing rotations of the current token: exactly one wins.
    let found = race(&s, 8, |tx| Box::pin(tx.rotate_refresh_token("r2", t(12)))).await;
    let current = found
        .iter()
        .filter(|f| matches!(f, RefreshRedemption::Current(_)))
        .count();
    let reused = found
        .iter()
        .filter(|f| matches!(f, RefreshRedemption::Reused(tok) if tok.rotated_at == Some(t(12))))
        .count();
    assert_eq!((current, reused), (1, 7), "{found:?}");

    // Reuse ends the family: every unrevoked token of the session, not another session's.
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_refresh_token(refresh_token("r3", &g, t(100)))
        .await
        .unwrap();
    assert_eq!(tx.revoke_refresh_family(&g.id, t(20)).await.unwrap(), 3);
    assert_eq!(tx.revoke_refresh_family(&g.id, t(21)).await.unwrap(), 0);
    tx.commit().await.unwrap();
    for hash in ["r1", "r2", "r3"] {
        let token = s.get_refresh_token(hash).await.unwrap().unwrap();
        assert_eq!(token.revoked_at, Some(t(20)), "{hash}");
    }
    // A revoked, never rotated token is reuse too.
    assert!(matches!(
        rotate(&*s, "r3", 22).await,
        RefreshRedemption::Reused(tok) if tok.rotated_at.is_none() && tok.revoked_at == Some(t(20))
    ));
    let h1 = s.get_refresh_token("h1").await.unwrap().unwrap();
    assert_eq!((h1.rotated_at, h1.revoked_at), (None, None));
}

pub async fn oauth_grant_sessions_cascade(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    s.create_session(session("b2", u.id, o, t(3600)))
        .await
        .unwrap();
    let online = grant_session("g-on", u.id, o, "app", Some("b"), false);
    let offline = grant_session("g-off", u.id, o, "app", Some("b"), true);
    let elsewhere = grant_session("g-b2", u.id, o, "app", Some("b2"), false);
    let mut ended = grant_session("g-dead", u.id, o, "app", Some("b"), false);
    ended.expires_at = t(5);
    for x in [&online, &offline, &elsewhere, &ended] {
        s.create_session(x.clone()).await.unwrap();
    }
    assert!(matches!(
        s.create_session(grant_session("x", u.id, o, "nope", Some("b"), false)).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));
    assert!(matches!(
        s.create_session(grant_session("x", u.id, o, "app", Some("nope"), false)).await,
        Err(StoreError::NotFound(m)) if m == "unknown session"
    ));
    assert_eq!(
        s.get_session(&online.id).await.unwrap(),
        Some(online.clone())
    );
    assert_eq!(
        s.get_session(&offline.id).await.unwrap(),
        Some(offline.clone())
    );
    assert_eq!(
        s.grant_sessions_of(&SessionId("b".into()), t(10))
            .await
            .unwrap(),
        vec![offline.clone(), online.clone()]
    );

    // Ending the browser session ends its online grant sessions, not the offline one.
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert!(
        s.revoke_session(&SessionId("b".into()), t(10))
            .await
            .unwrap()
    );
    assert_eq!(
        events_after(&*s, seq).await,
        vec![
            RevocationEvent::Session(SessionId("b".into())),
            RevocationEvent::Session(online.id.clone()),
        ]
    );
    let revoked_at = |id: &SessionId| {
        let s = Arc::clone(&s);
        let id = id.clone();
        async move { s.get_session(&id).await.unwrap().unwrap().revoked_at }
    };
    assert_eq!(revoked_at(&online.id).await, Some(t(10)));
    assert_eq!(revoked_at(&offline.id).await, None);
    assert_eq!(revoked_at(&elsewhere.id).await, None);
    assert_eq!(
        revoked_at(&ended.id).await,
        None,
        "an expired session stays as it was"
    );
    assert_eq!(
        s.grant_sessions_of(&SessionId("b".into()), t(10))
            .await
            .unwrap(),
        vec![offline.clone()]
    );
    assert!(
        !s.revoke_session(&SessionId("b".into()), t(11))
            .await
            .unwrap()
    );
    assert!(matches!(
        s.create_session(grant_session("late", u.id, o, "app", Some("b"), false)).await,
        Err(StoreError::Conflict(m)) if m == "parent session revoked"
    ));

    // The same in a unit: nothing before the commit, both sessions and events after.
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let b2 = SessionId("b2".into());
    let mut tx = s.begin_write().await.unwrap();
    assert!(tx.revoke_session(&b2, t(12)).await.unwrap());
    drop(tx);
    assert_eq!(revoked_at(&elsewhere.id).await, None);
    let mut tx = s.begin_write().await.unwrap();
    assert!(tx.revoke_session(&b2, t(12)).await.unwrap());
    assert!(!tx.revoke_session(&b2, t(13)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(revoked_at(&elsewhere.id).await, Some(t(12)));
    assert_eq!(
        events_after(&*s, seq).await,
        vec![
            RevocationEvent::Session(b2),
            RevocationEvent::Session(elsewhere.id.clone()),
        ]
    );
    // However a grant session's creation and its parent's revocation race, the grant session
    // is never left live under a revoked parent.
    for i in 0..12 {
        let (b, g) = (format!("race-b{i}"), format!("race-g{i}"));
        s.create_session(session(&b, u.id, o, t(3600)))
            .await
            .unwrap();
        let child = grant_session(&g, u.id, o, "app", Some(&b), false);
        let creating = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.create_session(child).await })
        };
        let revoking = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.revoke_session(&SessionId(b), t(20)).await.unwrap() })
        };
        let created = creating.await.unwrap();
        assert!(revoking.await.unwrap());
        match created {
            Ok(()) => assert_eq!(revoked_at(&SessionId(g)).await, Some(t(20))),
            Err(e) => assert!(
                matches!(&e, StoreError::Conflict(m) if m == "parent session revoked"),
                "{e}"
            ),
        }
    }

    // A grant session can be revoked on its own too.
    assert!(s.revoke_session(&offline.id, t(14)).await.unwrap());
    assert!(
        s.grant_sessions_of(&SessionId("b".into()), t(14))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Token-exchange sessions are children of a grant session (and of each other when chained):
/// ending any ancestor ends the whole line below it in the same unit, an offline grant's line
/// outlives the browser session, and ending a child leaves its parent alone.
pub async fn oauth_exchange_sessions_cascade(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    s.create_oauth_client(oauth_client("svc", None, None))
        .await
        .unwrap();
    let chain = [
        grant_session("g", u.id, o, "app", Some("b"), false),
        grant_session("x1", u.id, o, "svc", Some("g"), false),
        grant_session("x2", u.id, o, "svc", Some("x1"), false),
        grant_session("off", u.id, o, "app", Some("b"), true),
        grant_session("x-off", u.id, o, "svc", Some("off"), false),
        grant_session("y", u.id, o, "svc", Some("g"), false),
    ];
    for x in &chain {
        s.create_session(x.clone()).await.unwrap();
    }
    let revoked = |id: &'static str| {
        let s = Arc::clone(&s);
        async move {
            s.get_session(&SessionId(id.into()))
                .await
                .unwrap()
                .unwrap()
                .revoked_at
        }
    };
    // Ending a child leaves its parent and siblings.
    assert!(
        s.revoke_session(&SessionId("y".into()), t(5))
            .await
            .unwrap()
    );
    assert_eq!(revoked("g").await, None);
    assert_eq!(revoked("x1").await, None);
    // Ending the browser session ends the online grant, its exchange and the exchange of that.
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    assert!(
        s.revoke_session(&SessionId("b".into()), t(10))
            .await
            .unwrap()
    );
    for id in ["g", "x1", "x2"] {
        assert_eq!(revoked(id).await, Some(t(10)), "{id}");
    }
    assert_eq!(revoked("off").await, None);
    assert_eq!(revoked("x-off").await, None);
    let mut events = events_after(&*s, seq).await;
    events.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        events,
        ["b", "g", "x1", "x2"].map(|id| RevocationEvent::Session(SessionId(id.into())))
    );
    // The offline grant's line ends with it.
    assert!(
        s.revoke_session(&SessionId("off".into()), t(11))
            .await
            .unwrap()
    );
    assert_eq!(revoked("x-off").await, Some(t(11)));
    // A new exchange under an ended grant is refused.
    assert!(matches!(
        s.create_session(grant_session("late", u.id, o, "svc", Some("x1"), false)).await,
        Err(StoreError::Conflict(m)) if m == "parent session revoked"
    ));
}
