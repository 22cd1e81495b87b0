//! Linking by email: never across providers, only in served domains, never a super-admin.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_provider_cannot_take_over_by_email() {
    let idp_a = Idp::start(&[]).await;
    let idp_b = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    env.org("acme").await;
    let a = jit(provider("a", &idp_a), "acme");
    let b = jit(provider("b", &idp_b), "acme");
    let f = fed(&env, vec![a.clone(), b.clone()]);

    let (ta, _) = idp_a
        .tokens(json!({"sub": "grace", "email": "grace@example.com"}))
        .await;
    let ida = f.verify_id_token(&ta, None).await.unwrap();
    let user = f.resolve_user(&ida, &ctx()).await.expect("created via A");

    // B asserts the same (verified) email and even the same sub: no link policy → refused.
    let (tb, _) = idp_b
        .tokens(json!({"sub": "grace", "email": "grace@example.com"}))
        .await;
    let idb = f.verify_id_token(&tb, None).await.unwrap();
    assert_eq!(idb.provider, "b");
    assert!(matches!(
        f.resolve_user(&idb, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    // A token signed by B's key claiming A's issuer is a bad signature.
    let cross = idp_b
        .sign(
            json!({"claims": {"sub": "grace", "iss": idp_a.issuer, "email": "grace@example.com"}}),
        )
        .await;
    assert!(matches!(
        f.verify_id_token(&cross, None).await,
        Err(FederationError::BadSignature)
    ));

    // With linking allowed, an unverified email still does not link.
    let mut b_link = b.clone();
    b_link.link_verified_email = true;
    b_link.email_domains = vec!["example.com".into()];
    let g = fed(&env, vec![a, b_link]);
    let (tb, _) = idp_b
        .tokens(json!({"sub": "grace2", "email": "grace@example.com", "email_verified": false}))
        .await;
    let idb = g.verify_id_token(&tb, None).await.unwrap();
    assert!(matches!(
        g.resolve_user(&idb, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    // Explicit policy + verified email: linked to the same account.
    let (tb, _) = idp_b
        .tokens(json!({"sub": "grace3", "email": "grace@example.com", "email_verified": true}))
        .await;
    let idb = g.verify_id_token(&tb, None).await.unwrap();
    assert_eq!(g.resolve_user(&idb, &ctx()).await.unwrap().id, user.id);
    env.engine.shutdown().await;
}

fn super_admin(email: &str) -> portcullis_core::NewUser {
    portcullis_core::NewUser {
        email: email.into(),
        display_name: "Root".into(),
        avatar_url: None,
        password_hash: None,
        validated_at: Some(chrono::Utc::now()),
        super_admin: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_only_in_served_domains_and_never_a_super_admin() {
    let idp = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    env.org("acme").await;
    let store = &env.store;
    let root = store
        .create_user(super_admin("root@example.com"))
        .await
        .unwrap();
    let plain = store
        .create_user(portcullis_core::NewUser {
            super_admin: false,
            ..super_admin("plain@example.com")
        })
        .await
        .unwrap();
    let other = store
        .create_user(portcullis_core::NewUser {
            super_admin: false,
            ..super_admin("someone@partner.org")
        })
        .await
        .unwrap();
    let mut p = provider("corp", &idp);
    p.link_verified_email = true;
    // Linking without the domains it may link is a configuration error, not a silent no-op.
    assert!(matches!(p.validate(), Err(FederationError::Config(_))));
    p.email_domains = vec!["example.com".into()];
    let f = fed(&env, vec![p]);

    // A super-admin's verified email is never linked.
    let (t, _) = idp
        .tokens(json!({"sub": "up-root", "email": "root@example.com", "email_verified": true}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert!(matches!(
        f.resolve_user(&id, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    assert!(
        store
            .find_external_identity(&idp.issuer, "up-root")
            .await
            .unwrap()
            .is_none()
    );
    // An address outside the provider's email_domains is not linked.
    let (t, _) = idp
        .tokens(json!({"sub": "up-other", "email": "someone@partner.org", "email_verified": true}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert!(matches!(
        f.resolve_user(&id, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    // Control: a verified address in a served domain, not a super-admin, links.
    let (t, _) = idp
        .tokens(json!({"sub": "up-plain", "email": "plain@example.com", "email_verified": true}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert_eq!(f.resolve_user(&id, &ctx()).await.unwrap().id, plain.id);
    assert!(!root.id.to_string().is_empty() && other.id != plain.id);
    env.engine.shutdown().await;
}
