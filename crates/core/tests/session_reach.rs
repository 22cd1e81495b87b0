//! How far a session's end reaches (issue 15, items 5, 7, 8): MediaMTX tokens end with their
//! session, Nominal sessions get the idle timeout, unknown API-key bearers are charged to the
//! per-IP limit before the store is asked, and API keys per user are capped. On a real SQLite
//! store.

use std::net::{IpAddr, Ipv4Addr};

use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::mediamtx::{MediaMtxPermission, MediaMtxSigner};
use portcullis_core::*;
use portcullis_testkit::{Login, TestEnv, ctx};

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));

/// An engine with `cfg` and the org "acme".
async fn env_with(cfg: CoreConfig) -> (TestEnv, Org) {
    let e = TestEnv::builder().config(cfg).build().await;
    let acme = e.org("acme").await;
    (e, acme)
}

/// A fresh user with `role` in `org`, logged in there.
async fn signed_in(e: &TestEnv, email: &str, org: &Org, role: Role) -> Login {
    e.user_in(email, org, &[role]).await;
    e.login(email, OrgChoice::Default).await
}

fn signer() -> MediaMtxSigner {
    let pem = include_str!("../../surfaces/nominal/tests/fixtures/mediamtx-test-key.pem");
    let key = MediaMtxSigner::parse_pem(pem).unwrap();
    MediaMtxSigner::from_key(&key, None, "http://test").unwrap()
}

fn read(path: &str) -> Vec<MediaMtxPermission> {
    vec![MediaMtxPermission {
        action: "read".into(),
        path: path.into(),
    }]
}

// ---- item 7: MediaMTX tokens end with their session ---------------------------------------------

#[tokio::test]
async fn a_mediamtx_token_is_refused_by_the_callback_once_its_session_ends() {
    let (e, acme) = env_with(CoreConfig::default()).await;
    let Login {
        token,
        principal: p,
        ..
    } = signed_in(&e, "ann@example.com", &acme, Role::Author).await;
    let signer = signer();
    let cam = format!("{}/cam1", acme.id.0);
    let (mtx, exp) = e
        .engine
        .mediamtx_token(&signer, &p, &read(&cam))
        .await
        .unwrap();
    assert!(Some(exp) <= p.expires_at, "capped by the session");
    e.engine
        .authorize_mediamtx(&signer, &mtx, "read", &cam)
        .await
        .unwrap();
    // Only what it names.
    for (action, path) in [("publish", cam.as_str()), ("read", "other/cam")] {
        let err = e
            .engine
            .authorize_mediamtx(&signer, &mtx, action, path)
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::PermissionDenied(_)), "{err:?}");
    }
    // Forged (signed by another key) or tampered: refused.
    let mut tampered = mtx.clone();
    tampered.pop();
    assert!(
        e.engine
            .authorize_mediamtx(&signer, &tampered, "read", &cam)
            .await
            .is_err()
    );
    e.engine.logout(&token, &ctx()).await.unwrap();
    let err = e
        .engine
        .authorize_mediamtx(&signer, &mtx, "read", &cam)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidToken(_)), "{err:?}");
}

#[tokio::test]
async fn a_mediamtx_token_ends_with_the_membership_and_the_api_key() {
    let (e, acme) = env_with(CoreConfig::default()).await;
    e.user_in("ada@example.com", &acme, &[Role::Admin]).await;
    e.user_in("mel@example.com", &acme, &[Role::Author]).await;
    let admin = e
        .login("ada@example.com", OrgChoice::Default)
        .await
        .principal;
    let mel = e
        .login("mel@example.com", OrgChoice::Default)
        .await
        .principal;
    let signer = signer();
    let cam = format!("{}/cam1", acme.id.0);
    let (by_session, _) = e
        .engine
        .mediamtx_token(&signer, &mel, &read(&cam))
        .await
        .unwrap();
    let (key, secret) = e
        .engine
        .create_api_key(&admin, "cam", None, &ctx())
        .await
        .unwrap();
    let by_key_p = e.engine.authenticate(&secret).await.unwrap();
    let (by_key, _) = e
        .engine
        .mediamtx_token(&signer, &by_key_p, &read(&cam))
        .await
        .unwrap();
    let exchanged = e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    let minted_p = e.engine.authenticate(&exchanged.token).await.unwrap();
    let (by_minted, _) = e
        .engine
        .mediamtx_token(&signer, &minted_p, &read(&cam))
        .await
        .unwrap();
    for t in [&by_session, &by_key, &by_minted] {
        e.engine
            .authorize_mediamtx(&signer, t, "read", &cam)
            .await
            .unwrap();
    }
    // Mel leaves the org: her MediaMTX token goes with her.
    e.engine
        .deactivate_in_org(&admin, mel.user, &ctx())
        .await
        .unwrap();
    assert!(
        e.engine
            .authorize_mediamtx(&signer, &by_session, "read", &cam)
            .await
            .is_err()
    );
    // The API key is revoked: tokens minted through it or its access token go with it.
    e.engine
        .revoke_api_key(&admin, key.id, &ctx())
        .await
        .unwrap();
    for t in [&by_key, &by_minted] {
        assert!(
            e.engine
                .authorize_mediamtx(&signer, t, "read", &cam)
                .await
                .is_err()
        );
    }
}

// ---- item 8: Nominal sessions get the idle timeout ----------------------------------------------

#[tokio::test]
async fn sessions_behind_issued_access_tokens_get_the_idle_timeout() {
    let mut cfg = CoreConfig::default();
    cfg.tokens.idle_timeout_secs = 600;
    let (e, acme) = env_with(cfg).await;
    let ann = e.user_in("ann@example.com", &acme, &[Role::Author]).await;
    // The path of getAccessToken, refreshAccessToken and sandbox tokens.
    let issued = e
        .engine
        .issue_access_token(&ann, OrgChoice::Default, vec!["fed".into()], None, &ctx())
        .await
        .unwrap();
    let p = e.engine.authenticate(&issued.token).await.unwrap();
    let s = e
        .store
        .get_session(p.session().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.idle_timeout_secs, Some(600));
    let current = e.engine.current_session(&p).await.unwrap();
    let deadline = current.idle_expires_at.expect("an idle deadline");
    // The last use (this validation) plus the timeout.
    let idle = chrono::Duration::seconds(600);
    assert!(deadline >= s.last_seen_at + idle && deadline <= chrono::Utc::now() + idle);
}

// ---- item 5: the online check -------------------------------------------------------------------

#[tokio::test]
async fn the_current_session_is_the_bearers_and_ends_with_it() {
    let (e, acme) = env_with(CoreConfig::default()).await;
    let Login {
        token,
        principal: p,
        ..
    } = signed_in(&e, "ann@example.com", &acme, Role::Author).await;
    let current = e.engine.current_session(&p).await.unwrap();
    let s = current.session.expect("a session");
    assert_eq!(Some(&s.id), p.session());
    assert_eq!(
        current.expires_at,
        Some(s.expires_at.min(p.expires_at.unwrap()))
    );
    assert_eq!(current.idle_expires_at, None);
    e.engine.logout(&token, &ctx()).await.unwrap();
    assert!(e.engine.authenticate(&token).await.is_err());
}

// ---- item 8: unknown API-key bearers and the per-user cap ---------------------------------------

#[tokio::test]
async fn unknown_api_key_bearers_are_charged_to_the_ip_limit_before_the_store() {
    let mut cfg = CoreConfig::default();
    cfg.rate_limit.per_ip_per_sec = 1;
    cfg.rate_limit.burst = 3;
    let (e, acme) = env_with(cfg).await;
    let admin = signed_in(&e, "ada@example.com", &acme, Role::Admin)
        .await
        .principal;
    let (_, secret) = e
        .engine
        .create_api_key(&admin, "ci", None, &ctx())
        .await
        .unwrap();
    // The real key once (a read-cache miss: charged), then it is cached.
    e.engine.authenticate_from(&secret, Some(IP)).await.unwrap();
    let mut refused = 0;
    for i in 0..5 {
        let guess = format!("nominal_api_key_guess{i}");
        match e.engine.authenticate_from(&guess, Some(IP)).await {
            Err(CoreError::InvalidToken(_)) => {}
            Err(CoreError::RateLimited { .. }) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 3, "the burst of 3 is spent after two guesses");
    // A cached key costs no store read and is not charged: it still works from that IP.
    e.engine.authenticate_from(&secret, Some(IP)).await.unwrap();
    // Another client is not affected.
    let other = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    assert!(matches!(
        e.engine
            .authenticate_from("nominal_api_key_guess", Some(other))
            .await,
        Err(CoreError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn live_api_keys_per_user_are_capped() {
    let mut cfg = CoreConfig::default();
    cfg.credentials.max_api_keys_per_user = 2;
    let (e, acme) = env_with(cfg).await;
    let admin = signed_in(&e, "ada@example.com", &acme, Role::Admin)
        .await
        .principal;
    let (first, _) = e
        .engine
        .create_api_key(&admin, "one", None, &ctx())
        .await
        .unwrap();
    e.engine
        .create_api_key(&admin, "two", Some(30), &ctx())
        .await
        .unwrap();
    let err = e
        .engine
        .create_api_key(&admin, "three", None, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoreError::LimitExceeded { limit: 2, .. }),
        "{err:?}"
    );
    let all = store::CredentialFilter {
        user_id: Some(admin.user),
        include_revoked: true,
        ..Default::default()
    };
    assert_eq!(
        e.store.list_credentials(&all, 0, 10).await.unwrap().len(),
        2,
        "a refused creation writes nothing"
    );
    // A revoked key no longer counts.
    e.engine
        .revoke_api_key(&admin, first.id, &ctx())
        .await
        .unwrap();
    e.engine
        .create_api_key(&admin, "three", None, &ctx())
        .await
        .unwrap();
}
