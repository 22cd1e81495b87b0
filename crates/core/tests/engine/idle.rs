//! The idle timeout of sessions.

use super::*;

// ---- idle timeout -------------------------------------------------------------------------------

fn idle_config(secs: i64) -> CoreConfig {
    let mut cfg = CoreConfig::default();
    cfg.tokens.idle_timeout_secs = secs;
    cfg
}

/// One use of `sid` seen by `tracker` at `when`.
async fn use_once(
    tracker: &portcullis_core::idle::IdleTracker,
    store: &dyn portcullis_core::store::Store,
    sid: &SessionId,
    when: Timestamp,
) -> portcullis_core::idle::Use {
    tracker.use_session(store, sid, when).await.unwrap()
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
    let fresh = IdleTracker::new(100);
    let last_seen = || async {
        e.store
            .get_session(&sid)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at
    };
    // Uses within the minute are not written.
    assert_eq!(use_once(&here, store, &sid, at(10)).await, Use::Live);
    assert_eq!(use_once(&here, store, &sid, at(50)).await, Use::Live);
    assert_eq!(last_seen().await, t0);
    // A minute after the stored value: written once.
    assert_eq!(use_once(&here, store, &sid, at(61)).await, Use::Live);
    assert_eq!(use_once(&here, store, &sid, at(62)).await, Use::Live);
    assert_eq!(last_seen().await, at(61));
    // Another process saw the session long ago; the use written here keeps it alive there.
    assert_eq!(use_once(&there, store, &sid, at(62)).await, Use::Live);
    assert_eq!(use_once(&here, store, &sid, at(500)).await, Use::Live);
    assert_eq!(last_seen().await, at(500));
    // 600 s after 62 plus the one-minute grace, "there" has not seen a use, but the store has.
    assert_eq!(
        use_once(&there, store, &sid, at(62 + 600) + TOUCH_EVERY).await,
        Use::Live
    );
    // Never before the timeout, at most a minute after it.
    assert_eq!(
        use_once(&here, store, &sid, at(62 + 600 + 599)).await,
        Use::Live
    );
    let last = at(62 + 600 + 599);
    assert_eq!(
        use_once(
            &fresh,
            store,
            &sid,
            last + chrono::Duration::seconds(600) + TOUCH_EVERY
        )
        .await,
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
        grant: None,
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
