//! The idle timeout of sessions.

use super::*;

// ---- idle timeout -------------------------------------------------------------------------------

fn idle_config(secs: i64) -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.tokens.idle_timeout_secs = secs;
    cfg
}

#[tokio::test]
async fn idle_sessions_end_and_last_seen_is_written_at_most_once_a_minute() {
    use portcullis_core::idle::{IdleTracker, TOUCH_EVERY, Use};
    let e = env_with(idle_config(600)).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let sid = p.session().unwrap().clone();
    let s0 = e.store.get_session(&sid).await.unwrap().unwrap();
    assert_eq!(s0.idle_timeout_secs, Some(600));
    let t0 = s0.last_seen_at;
    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
    let store = e.store.as_ref();

    let here = IdleTracker::new(100);
    let there = IdleTracker::new(100);
    // Uses within the minute are not written.
    assert_eq!(
        here.use_session(store, &sid, at(10)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        here.use_session(store, &sid, at(50)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        t0
    );
    // A minute after the stored value: written once.
    assert_eq!(
        here.use_session(store, &sid, at(61)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        here.use_session(store, &sid, at(62)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        at(61)
    );
    // Another process saw the session long ago; the use written here keeps it alive there.
    assert_eq!(
        there.use_session(store, &sid, at(62)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        here.use_session(store, &sid, at(500)).await.unwrap(),
        Use::Live
    );
    assert_eq!(
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        at(500)
    );
    // 600 s after 62 plus the one-minute grace, "there" has not seen a use, but the store has.
    assert_eq!(
        there
            .use_session(store, &sid, at(62 + 600) + TOUCH_EVERY)
            .await
            .unwrap(),
        Use::Live
    );
    // Never before the timeout, at most a minute after it.
    assert_eq!(
        here.use_session(store, &sid, at(62 + 600 + 599))
            .await
            .unwrap(),
        Use::Live
    );
    let last = at(62 + 600 + 599);
    let fresh = IdleTracker::new(100);
    assert_eq!(
        fresh
            .use_session(
                store,
                &sid,
                last + chrono::Duration::seconds(600) + TOUCH_EVERY
            )
            .await
            .unwrap(),
        Use::Idle
    );
}

#[tokio::test]
async fn an_idle_session_is_refused_and_ended_everywhere() {
    let e = env_with(idle_config(600)).await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let now = Utc::now();
    // A session last used two hours ago, with a token that is still valid.
    let stale = Session {
        id: SessionId::generate(),
        user_id: ann.id,
        org_id: org.id,
        kind: SessionKind::Login,
        amr: vec!["pwd".into()],
        actor_id: None,
        created_at: now - chrono::Duration::hours(2),
        expires_at: now + chrono::Duration::hours(1),
        idle_timeout_secs: Some(600),
        last_seen_at: now - chrono::Duration::hours(2),
        revoked_at: None,
        ip: None,
        user_agent: None,
    };
    e.store.create_session(stale.clone()).await.unwrap();
    let tokens = e.engine.access_tokens();
    let claims = tokens.claims(
        ann.id,
        org.id,
        &stale.id.0,
        now,
        stale.expires_at,
        vec!["pwd".into()],
        false,
    );
    let token = tokens.sign(&claims).unwrap();
    match e.engine.authenticate(&token).await {
        Err(CoreError::InvalidToken(m)) => assert!(m.contains("inactivity"), "{m}"),
        other => panic!("{other:?}"),
    }
    let ended = e.store.get_session(&stale.id).await.unwrap().unwrap();
    assert!(
        ended.revoked_at.is_some(),
        "ended in the store, for every process"
    );
    assert_eq!(e.audit_events("session.idle_timeout").await.len(), 1);

    // A fresh session works and lists its last use and idle deadline.
    let p = e.signed_in("ann@example.com").await;
    let mine = e.engine.list_my_sessions(&p).await.unwrap();
    assert_eq!(mine.len(), 1);
    let s = &mine[0];
    assert!(s.current);
    assert_eq!(
        s.idle_expires_at,
        Some(s.last_seen + chrono::Duration::seconds(600))
    );
}

#[tokio::test]
async fn without_an_idle_timeout_sessions_show_no_deadline() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let mine = e.engine.list_my_sessions(&p).await.unwrap();
    assert_eq!(mine[0].idle_expires_at, None);
    assert_eq!(mine[0].last_seen, mine[0].session.created_at);
}
