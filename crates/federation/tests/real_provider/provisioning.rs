//! Real tokens, just-in-time provisioning, allow lists, groups and org claims.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tokens_accepted_and_jit_provisioning() {
    let idp = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    let acme = env.org("acme").await;
    let f = fed(&env, vec![jit(provider("corp", &idp), "acme")]);

    let (id_token, access_token) = idp
        .tokens(json!({"sub": "alice-1", "email": "Alice@Example.com", "name": "Alice"}))
        .await;
    // The JWT access token above is for the API resource; userinfo takes the plain OIDC one.
    let (_, userinfo_token) = idp
        .tokens(json!({"sub": "alice-1", "access_token_format": "opaque"}))
        .await;
    let id = f
        .verify_id_token(&id_token, Some(&userinfo_token))
        .await
        .expect("real ID token");
    assert_eq!(id.subject, "alice-1");
    assert_eq!(id.issuer, idp.issuer);
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert!(id.email_verified);
    assert_eq!(id.name.as_deref(), Some("Alice"));
    assert!(id.expires_at.is_some());

    let at = f
        .verify_access_token(&access_token, None)
        .await
        .expect("real access token");
    assert_eq!(at.subject, "alice-1");
    assert_eq!(at.require_email().expect("email"), "alice@example.com");
    let upstream_exp = at.expires_at.expect("exp");

    // JIT on: provisioned into acme with the configured roles; a second login reuses the link.
    let user = f.resolve_user(&id, &ctx()).await.expect("provisioned");
    assert_eq!(user.email, "alice@example.com");
    assert_eq!(user.display_name, "Alice");
    let m = env
        .store
        .get_membership(user.id, acme.id)
        .await
        .unwrap()
        .expect("membership");
    assert_eq!(m.roles, BTreeSet::from([Role::Author]));
    let again = f.resolve_user(&at, &ctx()).await.expect("linked");
    assert_eq!(again.id, user.id);

    // Nominal: one member org → chosen; token capped by the upstream expiry.
    let choice = f
        .nominal_choice(&id, &user, NominalOrgRequest::default())
        .await
        .expect("one org");
    assert_eq!(choice, OrgChoice::Specific(acme.id));
    let issued = env
        .engine
        .issue_access_token(
            &user,
            choice,
            vec!["fed".into()],
            Some(upstream_exp),
            &ctx(),
        )
        .await
        .expect("issued");
    assert!(issued.expires_at <= upstream_exp);
    assert!(!issued.guest);
    // Parsable: a session through the engine.
    let pchoice = f.parsable_choice(&id, &user, None).await.expect("choice");
    let grant = env
        .engine
        .finish_login(user.clone(), vec!["fed".into()], pchoice, None, &ctx())
        .await
        .expect("session");
    assert_eq!(grant.token.org, acme.id);

    // Logout: the end-session endpoint from discovery.
    let end = f
        .end_session_endpoint(&id_token)
        .await
        .expect("end session");
    assert!(end.expect("has one").starts_with(&idp.issuer));

    // Userinfo of another account → mismatch.
    let (_, other_at) = idp
        .tokens(json!({"sub": "mallory", "email": "mallory@example.com",
                        "access_token_format": "opaque"}))
        .await;
    assert!(matches!(
        f.verify_id_token(&id_token, Some(&other_at)).await,
        Err(FederationError::UserinfoMismatch)
    ));
    // An access token userinfo refuses (the API-resource JWT) → rejected.
    assert!(matches!(
        f.verify_id_token(&id_token, Some(&access_token)).await,
        Err(FederationError::UserinfoRejected)
    ));

    // An access token without email (refreshAccessToken needs one).
    let (_, no_email_at) = idp.tokens(json!({"sub": "no-mail"})).await;
    let ne = f
        .verify_access_token(&no_email_at, None)
        .await
        .expect("valid");
    assert!(matches!(ne.require_email(), Err(FederationError::MissingClaims(c)) if c == ["email"]));
    assert!(matches!(
        f.resolve_user(&ne, &ctx()).await,
        Err(FederationError::MissingClaims(_))
    ));
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_off_allowlist_deny_and_per_org_allowlist() {
    let idp = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    let acme = env.org("acme").await;
    let f_off = fed(&env, vec![provider("corp", &idp)]);
    let (id_token, _) = idp
        .tokens(json!({"sub": "bob", "email": "bob@example.com"}))
        .await;
    let id = f_off.verify_id_token(&id_token, None).await.expect("valid");
    assert!(matches!(
        f_off.resolve_user(&id, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));

    // JIT on but the domain is not allowed.
    let f = fed(&env, vec![jit(provider("corp", &idp), "acme")]);
    let (id_token, _) = idp
        .tokens(json!({"sub": "eve", "email": "eve@elsewhere.org"}))
        .await;
    let eve = f.verify_id_token(&id_token, None).await.expect("valid");
    assert!(matches!(
        f.resolve_user(&eve, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));
    assert!(
        env.store
            .get_user_by_email("eve@elsewhere.org")
            .await
            .unwrap()
            .is_none()
    );
    // Unverified email: no provisioning.
    let (id_token, _) = idp
        .tokens(json!({"sub": "uv", "email": "uv@example.com", "email_verified": false}))
        .await;
    let uv = f.verify_id_token(&id_token, None).await.expect("valid");
    assert!(matches!(
        f.resolve_user(&uv, &ctx()).await,
        Err(FederationError::NoAccount(_))
    ));

    // No name claim: the display name is the email's local part (NOMINAL §8).
    let (id_token, _) = idp
        .tokens(json!({"sub": "nameless", "email": "Nameless.One@example.com"}))
        .await;
    let nameless = f.verify_id_token(&id_token, None).await.expect("valid");
    assert!(nameless.name.is_none());
    let user = f
        .resolve_user(&nameless, &ctx())
        .await
        .expect("provisioned");
    assert_eq!(user.display_name, "nameless.one");

    // The per-org allow-list admits provisioning into that org.
    env.store
        .add_allowlist(AllowlistEntry {
            org_id: Some(acme.id),
            kind: AllowlistKind::Address,
            value: "eve@elsewhere.org".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let user = f
        .resolve_user(&eve, &ctx())
        .await
        .expect("allowed for acme");
    assert_eq!(user.email, "eve@elsewhere.org");
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_multi_org_guest_and_sync() {
    let idp = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    let acme = env.org("acme").await;
    let beta = env.org("beta").await;
    let mut p = provider("corp", &idp);
    p.jit_provisioning = true;
    p.sync_memberships = true;
    p.claims.groups = Some("groups".into());
    p.group_mappings = vec![
        GroupMapping {
            group: "acme-admins".into(),
            org: "acme".into(),
            roles: BTreeSet::from([Role::Admin]),
            kind: MembershipKind::Member,
        },
        GroupMapping {
            group: "beta-guests".into(),
            org: beta.id.to_string(),
            roles: BTreeSet::new(),
            kind: MembershipKind::Guest,
        },
        GroupMapping {
            group: "beta-users".into(),
            org: "beta".into(),
            roles: BTreeSet::from([Role::Executor]),
            kind: MembershipKind::Member,
        },
    ];
    let f = fed(&env, vec![p]);
    let rids = env.engine.rids();

    // Member of acme, guest of beta.
    let (id_token, _) = idp
        .tokens(json!({"sub": "carol", "email": "carol@example.com",
                        "groups": ["acme-admins", "beta-guests", "unmapped"]}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.expect("valid");
    assert_eq!(id.groups.as_ref().map(Vec::len), Some(3));
    let user = f.resolve_user(&id, &ctx()).await.expect("provisioned");
    let orgs = f.login_orgs(&id, &user).await.unwrap();
    assert_eq!(orgs.len(), 2);
    // One member org (beta is guest only): chosen without a RID.
    assert_eq!(
        f.nominal_choice(&id, &user, NominalOrgRequest::default())
            .await
            .unwrap(),
        OrgChoice::Specific(acme.id)
    );
    // The guest org by orgRid → isGuest.
    let beta_rid = rids.org(beta.id);
    let choice = f
        .nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                org_rid: Some(&beta_rid),
                workspace_rid: None,
            },
        )
        .await
        .unwrap();
    let issued = env
        .engine
        .issue_access_token(&user, choice, vec!["fed".into()], None, &ctx())
        .await
        .unwrap();
    assert!(issued.guest);
    assert_eq!(issued.org, beta.id);

    // Groups change: member of both → several member orgs → NoMembership without a RID.
    let (id_token, _) = idp
        .tokens(json!({"sub": "carol", "email": "carol@example.com",
                        "groups": ["acme-admins", "beta-users"]}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.expect("valid");
    let user = f.resolve_user(&id, &ctx()).await.expect("synced");
    assert!(matches!(
        f.nominal_choice(&id, &user, NominalOrgRequest::default())
            .await,
        Err(FederationError::NoMembership)
    ));
    let m = env
        .store
        .get_membership(user.id, beta.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.kind, MembershipKind::Member);
    assert_eq!(m.roles, BTreeSet::from([Role::Executor]));

    // Workspace RID picks its org; a differing orgRid is a 400; unknown workspace.
    let ws = env
        .store
        .create_workspace(beta.id, "main", None)
        .await
        .unwrap();
    let ws_rid = rids.workspace(ws.id);
    let acme_rid = rids.org(acme.id);
    assert!(matches!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&ws_rid),
                org_rid: None
            }
        )
        .await,
        Err(FederationError::NoMembership) // no grant and not an admin of beta
    ));
    let acme_ws = env
        .store
        .create_workspace(acme.id, "ops", None)
        .await
        .unwrap();
    let acme_ws_rid = rids.workspace(acme_ws.id);
    assert_eq!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&acme_ws_rid),
                org_rid: None
            }
        )
        .await
        .unwrap(),
        OrgChoice::Specific(acme.id) // admin of acme counts as a full member
    );
    assert!(matches!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&acme_ws_rid),
                org_rid: Some(&beta_rid)
            }
        )
        .await,
        Err(FederationError::InvalidArgument(_))
    ));
    let missing = rids.workspace(portcullis_core::WorkspaceId::new());
    assert!(matches!(
        f.nominal_choice(
            &id,
            &user,
            NominalOrgRequest {
                workspace_rid: Some(&missing),
                org_rid: Some(&acme_rid)
            }
        )
        .await,
        Err(FederationError::WorkspaceNotFound(_))
    ));

    // Groups drop beta: the managed membership is removed.
    let (id_token, _) = idp
        .tokens(json!({"sub": "carol", "email": "carol@example.com", "groups": ["acme-admins"]}))
        .await;
    let id = f.verify_id_token(&id_token, None).await.expect("valid");
    let user = f.resolve_user(&id, &ctx()).await.expect("synced");
    let m = env.store.get_membership(user.id, beta.id).await.unwrap();
    assert!(m.is_none_or(|m| m.removed_at.is_some()));
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_claim_needs_allowed_orgs() {
    let idp = Idp::start(&[]).await;
    let env = env_allowing("example.com").await;
    let acme = env.org("acme").await;
    env.org("secret-org").await;
    let mut p = provider("corp", &idp);
    p.jit_provisioning = true;
    // The harness publishes `groups`; here it carries org names.
    p.claims.org = Some("groups".into());
    assert!(matches!(p.validate(), Err(FederationError::Config(_))));
    assert!(Federation::new(vec![p.clone()], env.engine.clone()).is_err());
    p.allowed_orgs = vec!["acme".into()];
    let f = fed(&env, vec![p]);
    // The claim names an org outside allowed_orgs too: only the allowed one is joined.
    let (t, _) = idp
        .tokens(json!({"sub": "oc", "email": "oc@example.com",
                        "groups": ["acme", "secret-org"]}))
        .await;
    let id = f.verify_id_token(&t, None).await.unwrap();
    assert_eq!(id.orgs.len(), 2);
    let user = f.resolve_user(&id, &ctx()).await.expect("provisioned");
    let orgs = env
        .store
        .list_user_memberships(user.id, false)
        .await
        .unwrap();
    assert_eq!(
        orgs.iter().map(|m| m.org_id).collect::<Vec<_>>(),
        vec![acme.id]
    );
    env.engine.shutdown().await;
}
