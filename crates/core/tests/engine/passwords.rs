//! Passwords: lockout, hash upgrades, changes, forced resets and the email allow-list.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockout_counter_is_atomic_under_200_parallel_attempts() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let before = e.engine.hasher().verifications();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let engine = e.engine.clone();
        tasks.push(tokio::spawn(async move {
            engine
                .authenticate_password(
                    "ann@example.com",
                    "wrong password!",
                    &AuditContext::default(),
                )
                .await
        }));
    }
    let mut invalid = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(CoreError::InvalidCredentials) => invalid += 1,
            Err(CoreError::RateLimited { .. }) => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let verified = e.engine.hasher().verifications() - before;
    assert_eq!(
        verified, 1,
        "only one password check may run per account at a time"
    );
    assert_eq!(invalid, 1);
    assert_eq!(limited, 199);
}

#[tokio::test]
async fn lock_after_threshold_survives_restart_until_unlocked() {
    let cfg = lock_after_three();
    let e = env_with(cfg.clone()).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    for _ in 0..3 {
        let r = e
            .engine
            .authenticate_password("ann@example.com", "wrong password!", &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)));
    }
    // The right password no longer works, and the answer is the same as a wrong one.
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)));
    // A restart (a new engine on the same store) keeps the lock.
    let restarted = e.second_engine(cfg).await;
    let r = restarted
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)));
    restarted.unlock("ANN@example.com", &ctx()).await.unwrap();
    restarted
        .authenticate_password("ann@example.com", PW, &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn outdated_hashes_are_upgraded_on_login() {
    let e = env().await;
    let org = e.org("acme").await;
    let user = e.user("ann@example.com", false, &[&org]).await;
    let old = HashParams {
        memory_kib: 19456,
        iterations: 3,
        parallelism: 1,
    };
    let phc = tokio::task::spawn_blocking(move || old.hash_blocking(PW))
        .await
        .unwrap()
        .unwrap();
    e.store
        .update_user(
            user.id,
            UserUpdate {
                password_hash: Some(Some(phc.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    e.login("ann@example.com").await;
    let now = e
        .store
        .get_user(user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_ne!(now, phc);
    assert!(now.contains("m=19456,t=2,p=1"), "{now}");
}

// ---- password changes and sessions ---------------------------------------------------------------

const NEW_PW: &str = "another perfectly fine passphrase";

#[tokio::test]
async fn password_change_shares_the_login_throttle() {
    // Default delays: 1 s after the first failure.
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let r = e
        .engine
        .change_password(&p, "not my password", NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    // The very next attempt, right or wrong, through either door, waits without hashing.
    let before = e.engine.hasher().verifications();
    let r = e
        .engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::RateLimited { .. })), "{r:?}");
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::RateLimited { .. })), "{r:?}");
    assert_eq!(e.engine.hasher().verifications(), before);

    let failures = e.audit_events("password.change").await;
    let failure = failures
        .iter()
        .find(|ev| ev.outcome == AuditOutcome::Failure)
        .expect("a password.change failure event");
    assert_eq!(failure.actor, Some(ann.id));
    assert_eq!(failure.target.as_deref(), Some(ann.id.to_string().as_str()));
    assert_eq!(failure.detail["via"], "session");
    assert!(
        failures
            .iter()
            .any(|ev| ev.outcome == AuditOutcome::Denied && ev.detail["reason"] == "throttled")
    );
    let dump = serde_json::to_string(&failures).unwrap();
    assert!(!dump.contains("not my password") && !dump.contains(NEW_PW));
}

#[tokio::test]
async fn password_change_failures_lock_the_account() {
    let e = env_with(lock_after_three()).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    for _ in 0..3 {
        let r = e
            .engine
            .change_password(&p, "not my password", NEW_PW, false, false, &ctx())
            .await;
        assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    }
    // Locked: the right current password is refused too, and so is a login.
    let r = e
        .engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    assert_eq!(e.audit_events("account.lock").await.len(), 1);
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();
    e.engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await
        .unwrap();
}

impl Env {
    fn admin(&self, cfg: &CoreConfig) -> portcullis_core::admin::Admin {
        portcullis_core::admin::Admin::new(self.store.clone(), cfg, "test")
    }

    /// The force-password-reset of the admin CLI: returns the one-time code.
    async fn force_reset(&self, email: &str, revoke_credentials: bool) -> String {
        let r = self
            .admin(&CoreConfig::default())
            .require_password_reset(email, revoke_credentials)
            .await
            .unwrap();
        assert!(r.user.password_reset_required);
        r.code.to_string()
    }
}

#[tokio::test]
async fn a_forced_reset_needs_the_one_time_code_not_the_old_password() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let before = e.login("ann@example.com").await;
    let code = e.force_reset("ann@example.com", false).await;
    // The admin's reset ended every session, on this process within a poll.
    let deadline = Instant::now() + Duration::from_secs(2);
    while e.engine.authenticate(&before).await.is_ok() {
        assert!(Instant::now() < deadline, "the session outlived the reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = e
        .engine
        .authenticate_password("ann@example.com", PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();

    // Whoever knows the old password cannot complete the reset with it.
    let r = e
        .engine
        .reset_password_with_code("ann@example.com", PW, NEW_PW, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    e.engine.unlock("ann@example.com", &ctx()).await.unwrap();

    e.engine
        .reset_password_with_code("ANN@example.com ", &code, NEW_PW, &ctx())
        .await
        .unwrap();
    let flagged = e.store.get_user(ann.id).await.unwrap().unwrap();
    assert!(!flagged.password_reset_required);
    e.engine
        .login_password("ann@example.com", NEW_PW, OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    // Single use.
    let r = e
        .engine
        .reset_password_with_code("ann@example.com", &code, "a third fine passphrase", &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::InvalidCredentials)), "{r:?}");
    let events = e.audit_events("password.change").await;
    assert!(events.iter().any(|ev| ev.outcome == AuditOutcome::Success
        && ev.actor == Some(ann.id)
        && ev.detail["via"] == "reset"
        && ev.detail["was_reset_required"] == true));
    let all = serde_json::to_string(&e.audit_events("user.require_password_reset").await).unwrap();
    assert!(!all.contains(&code), "the code is never audited");
}

#[tokio::test]
async fn a_forced_reset_can_revoke_credentials_and_codes_expire() {
    let mut cfg = CoreConfig::default();
    cfg.passwords.reset_code_secs = 1;
    let e = env_with(cfg.clone()).await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    let p = e.signed_in("ann@example.com").await;
    let (_, secret) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let r = e
        .admin(&cfg)
        .require_password_reset("ann@example.com", true)
        .await
        .unwrap();
    assert_eq!(r.credentials_revoked, 1);
    assert!(r.sessions_revoked >= 1);
    let deadline = Instant::now() + Duration::from_secs(2);
    while e.engine.authenticate(&secret).await.is_ok() {
        assert!(Instant::now() < deadline, "the API key outlived the reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = e
        .engine
        .reset_password_with_code("ann@example.com", &r.code, NEW_PW, &ctx())
        .await;
    assert!(
        matches!(r, Err(CoreError::InvalidCredentials)),
        "expired: {r:?}"
    );
}

#[tokio::test]
async fn reset_by_code_answers_unknown_and_wrong_alike() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    e.user("gone@example.com", false, &[&org]).await;
    e.user("bob@example.com", false, &[&org]).await;
    let bob_code = e.force_reset("bob@example.com", false).await;
    let gone_code = e.force_reset("gone@example.com", false).await;
    let gone = e
        .store
        .get_user_by_email("gone@example.com")
        .await
        .unwrap()
        .unwrap();
    e.engine
        .deactivate_user(gone.id, None, &ctx())
        .await
        .unwrap();
    let attempts = [
        ("nobody@example.com", bob_code.as_str()),
        ("ann@example.com", bob_code.as_str()),
        ("bob@example.com", "a wrong code"),
        ("gone@example.com", gone_code.as_str()),
    ];
    for (email, code) in attempts {
        let r = e
            .engine
            .reset_password_with_code(email, code, NEW_PW, &ctx())
            .await;
        assert!(
            matches!(r, Err(CoreError::InvalidCredentials)),
            "{email}: {r:?}"
        );
        // Each key now waits its delay, known account or not.
        let r = e
            .engine
            .reset_password_with_code(email, code, NEW_PW, &ctx())
            .await;
        assert!(
            matches!(r, Err(CoreError::RateLimited { .. })),
            "{email}: {r:?}"
        );
    }
    // The new password is judged first, for any email, at no cost to the throttle.
    for email in ["nobody@example.com", "ann@example.com"] {
        for (new, why) in [("short", "at least 8"), ("password1", "common")] {
            match e
                .engine
                .reset_password_with_code(email, "code", new, &ctx())
                .await
            {
                Err(CoreError::InvalidArgument(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{email} {new}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn only_the_users_own_session_may_change_the_account() {
    let e = env().await;
    let org = e.org("acme").await;
    e.user("ann@example.com", false, &[&org]).await;
    e.user("root@example.com", true, &[&org]).await;
    let ann_token = e.login("ann@example.com").await;
    let p = e.engine.authenticate(&ann_token).await.unwrap();
    let (_, secret) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let minted = e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    let proxy = e
        .proxy_grant("root@example.com", "ann@example.com")
        .await
        .unwrap();
    let key_p = e.engine.authenticate(&secret).await.unwrap();
    let minted_p = e.engine.authenticate(&minted.token).await.unwrap();
    let proxy_p = e.engine.authenticate(&proxy.token.token).await.unwrap();
    assert!(key_p.is_credential_based() && minted_p.is_credential_based());
    assert!(proxy_p.actor.is_some());

    let before = e.engine.hasher().verifications();
    for q in [&key_p, &minted_p] {
        let r = e
            .engine
            .change_password(q, PW, NEW_PW, false, false, &ctx())
            .await;
        assert!(
            matches!(r, Err(CoreError::CredentialNotAllowed(_))),
            "{r:?}"
        );
        let r = e.engine.list_my_sessions(q).await;
        assert!(
            matches!(r, Err(CoreError::CredentialNotAllowed(_))),
            "{r:?}"
        );
        let r = e.engine.end_my_other_sessions(q, &ctx()).await;
        assert!(
            matches!(r, Err(CoreError::CredentialNotAllowed(_))),
            "{r:?}"
        );
    }
    let r = e
        .engine
        .change_password(&proxy_p, PW, NEW_PW, false, false, &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    let r = e
        .engine
        .end_my_session(&proxy_p, p.session().unwrap(), &ctx())
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied(_))), "{r:?}");
    assert_eq!(
        e.engine.hasher().verifications(),
        before,
        "refused before any password check"
    );
    // An impersonating admin may look: the user's session and the proxy one, marked current.
    let listed = e.engine.list_my_sessions(&proxy_p).await.unwrap();
    assert_eq!(listed.len(), 2);
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(Some(&current[0].session.id), proxy_p.session());
    assert!(current[0].session.actor_id.is_some());
    // The user's own session still works, and may change the password.
    e.engine
        .change_password(&p, PW, NEW_PW, true, false, &ctx())
        .await
        .unwrap();
    assert!(e.engine.authenticate(&proxy.token.token).await.is_err());
    e.engine.authenticate(&ann_token).await.unwrap();
}

// ---- password change: other sessions and credentials ------------------------------------------

#[tokio::test]
async fn a_password_change_can_revoke_every_credential() {
    let e = env().await;
    let org = e.org("acme").await;
    let other_org = e.org("beta").await;
    let ann = e.user("ann@example.com", false, &[&org, &other_org]).await;
    let p = e.signed_in("ann@example.com").await;
    let (_, key) = e
        .engine
        .create_api_key(&p, "ci", None, &ctx())
        .await
        .unwrap();
    let other = e.signed_in("ann@example.com").await;
    let other_token = e.login("ann@example.com").await;
    let _ = other;
    e.engine
        .change_password(&p, PW, NEW_PW, true, true, &ctx())
        .await
        .unwrap();
    assert!(
        e.engine.authenticate(&key).await.is_err(),
        "the API key is revoked"
    );
    assert!(
        e.engine.authenticate(&other_token).await.is_err(),
        "other sessions end"
    );
    let creds = e
        .store
        .list_credentials(
            &portcullis_core::store::CredentialFilter {
                user_id: Some(ann.id),
                include_revoked: true,
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert!(creds.iter().all(|c| c.revoked_at.is_some()));
    assert_eq!(e.audit_events("credential.revoke_all").await.len(), 1);
}

/// A session the user did not start with the password (the federation crate's IdP logins end in
/// `finish_login` with `amr = ["fed"]`): the forced-reset flag does not refuse it.
async fn idp_session(e: &Env, email: &str) -> portcullis_core::tokens::Principal {
    let user = e.store.get_user_by_email(email).await.unwrap().unwrap();
    let grant = e
        .engine
        .finish_login(user, vec!["fed".into()], OrgChoice::Default, None, &ctx())
        .await
        .unwrap();
    e.engine.authenticate(&grant.token.token).await.unwrap()
}

#[tokio::test]
async fn a_user_flagged_for_a_reset_cannot_change_the_password_with_the_old_one() {
    let e = env().await;
    let org = e.org("acme").await;
    let ann = e.user("ann@example.com", false, &[&org]).await;
    let code = e.force_reset("ann@example.com", false).await;
    let p = idp_session(&e, "ann@example.com").await;
    let verified = e.engine.hasher().verifications();
    let r = e
        .engine
        .change_password(&p, PW, NEW_PW, false, false, &ctx())
        .await;
    match r {
        Err(CoreError::PermissionDenied(why)) => assert!(why.contains("reset code"), "{why}"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    // Nothing changed, no attempt was counted and no password was tested.
    let after = e.store.get_user(ann.id).await.unwrap().unwrap();
    assert!(after.password_reset_required);
    let stored = after.password_hash.as_deref().unwrap();
    assert_ne!(
        e.engine.hasher().verify(PW, Some(stored)).await.unwrap(),
        password::Verified::No,
        "the old password is still the stored one"
    );
    assert_eq!(e.engine.hasher().verifications(), verified + 1);
    assert!(!e.throttled("ann@example.com").await);
    // The one-time code is the way; afterwards the session may change the password again.
    e.engine
        .reset_password_with_code("ann@example.com", &code, NEW_PW, &ctx())
        .await
        .unwrap();
    let p = idp_session(&e, "ann@example.com").await;
    e.engine
        .change_password(
            &p,
            NEW_PW,
            "a third perfectly fine passphrase",
            false,
            false,
            &ctx(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_empty_allow_list_allows_nobody() {
    let cfg = CoreConfig::default();
    assert!(cfg.allowed_email_domains.is_empty() && cfg.allowed_emails.is_empty());
    let e = env_with(cfg).await;
    for email in ["ann@example.com", "root@localhost.localdomain", "x@y.z"] {
        assert!(
            !e.engine.is_email_allowed(email, None).await.unwrap(),
            "{email}"
        );
    }
    let e = env_with(CoreConfig {
        allowed_email_domains: vec!["example.com".into()],
        ..CoreConfig::default()
    })
    .await;
    assert!(
        e.engine
            .is_email_allowed("ann@example.com", None)
            .await
            .unwrap()
    );
    assert!(
        !e.engine
            .is_email_allowed("ann@other.org", None)
            .await
            .unwrap()
    );
}
