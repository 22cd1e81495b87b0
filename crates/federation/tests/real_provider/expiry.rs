//! Sessions and tokens capped by the upstream expiry.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_tokens_capped_by_the_upstream_expiry() {
    let idp = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    let acme = env.org("acme").await;
    let mut p = jit(provider("corp", &idp), "acme");
    p.max_session_beyond_upstream_secs = 600;
    let f = fed(&env, vec![p]);
    let (id_token, access_token) = idp
        .tokens(json!({"sub": "cap", "email": "cap@example.com",
                        "access_token_ttl": 300, "id_token_ttl": 120}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.unwrap();
    let at = f.verify_access_token(&access_token, None).await.unwrap();
    let id_exp = id.expires_at.unwrap();
    let at_exp = at.expires_at.unwrap();
    let user = f.resolve_user(&id, &ctx()).await.unwrap();

    // Nominal: getAccessToken ends with the ID token, refreshAccessToken with the access token.
    assert_eq!(f.token_not_after(&id).unwrap(), id_exp);
    let choice = f
        .nominal_choice(&id, &user, NominalOrgRequest::default())
        .await
        .unwrap();
    let issued = f.issue_token(&id, &user, choice, &ctx()).await.unwrap();
    assert_eq!(issued.expires_at, id_exp);
    assert_eq!(f.token_not_after(&at).unwrap(), at_exp);
    let refreshed = f.issue_token(&at, &user, choice, &ctx()).await.unwrap();
    assert_eq!(refreshed.expires_at, at_exp);

    // Parsable and browser SSO: a session ends at most 600 s after the upstream token (not 30
    // days), the access token's or the ID token's.
    let not_after = f.session_not_after(&at).unwrap();
    assert_eq!(not_after, at_exp + chrono::Duration::seconds(600));
    let grant = f
        .start_session(
            &at,
            user.clone(),
            OrgChoice::Specific(acme.id),
            None,
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(grant.session.expires_at, not_after);
    assert_eq!(grant.token.expires_at, not_after);
    assert_eq!(grant.session.amr, vec!["fed".to_owned()]);
    let grant = f
        .start_session(
            &id,
            user.clone(),
            OrgChoice::Specific(acme.id),
            None,
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(
        grant.session.expires_at,
        id_exp + chrono::Duration::seconds(600)
    );

    // Unknown upstream expiry (userinfo-checked opaque token): counts as now.
    let mut unknown = at.clone();
    unknown.expires_at = None;
    let t = f.session_not_after(&unknown).unwrap();
    let now = chrono::Utc::now();
    assert!(t > now + chrono::Duration::seconds(590) && t <= now + chrono::Duration::seconds(600));
    let u = f.token_not_after(&unknown).unwrap();
    assert!(u >= t && u - t < chrono::Duration::seconds(5));

    // Past the cap, or an ID token within the leeway past its exp: refused, not minted.
    let mut old = at.clone();
    old.expires_at = Some(now - chrono::Duration::seconds(601));
    assert!(matches!(
        f.session_not_after(&old),
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        f.start_session(&old, user.clone(), OrgChoice::Default, None, &ctx())
            .await,
        Err(FederationError::Expired)
    ));
    old.expires_at = Some(now - chrono::Duration::seconds(5));
    assert!(matches!(
        f.token_not_after(&old),
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        f.issue_token(&old, &user, OrgChoice::Default, &ctx()).await,
        Err(FederationError::Expired)
    ));
    assert!(matches!(
        env.engine
            .finish_login_until(
                user,
                vec!["fed".into()],
                OrgChoice::Default,
                None,
                Some(now - chrono::Duration::seconds(1)),
                &ctx(),
            )
            .await,
        Err(portcullis_core::CoreError::TokenExpired)
    ));
    env.engine.shutdown().await;
}
