//! The org-binding rule (`portcullis_core::authz`), on a real SQLite store: a credential, a
//! token minted from one, or a team token acts only inside the org it was minted for, and never
//! with super-admin powers; an impersonation has none either.

use portcullis_core::directory::OrgsAdminCheck;
use portcullis_core::engine::OrgChoice;
use portcullis_core::tokens::Principal;
use portcullis_core::*;
use portcullis_testkit::{TestEnv, ctx};

fn denied<T>(r: Result<T, CoreError>) -> bool {
    matches!(
        r,
        Err(CoreError::PermissionDenied(_) | CoreError::CredentialNotAllowed(_))
    )
}

async fn session(e: &TestEnv, email: &str, org: &Org) -> Principal {
    e.login(email, OrgChoice::Specific(org.id)).await.principal
}

/// An API key minted in `org`, as the secret itself and as a token exchanged from it.
async fn api_key(e: &TestEnv, email: &str, org: &Org) -> (Principal, Principal) {
    let s = session(e, email, org).await;
    let (_, secret) = e
        .engine
        .create_api_key(&s, "ci", None, &ctx())
        .await
        .unwrap();
    let key = e.engine.authenticate(&secret).await.unwrap();
    let minted = e.engine.exchange_credential(&secret, &ctx()).await.unwrap();
    let minted = e.engine.authenticate(&minted.token).await.unwrap();
    assert_eq!((key.org, minted.org), (org.id, org.id));
    (key, minted)
}

async fn org_token(e: &TestEnv, email: &str, home: &Org, team: &Org) -> Principal {
    let s = session(e, email, home).await;
    let t = e.engine.org_token(&s, team.id, &ctx()).await.unwrap();
    e.engine.authenticate(&t.token).await.unwrap()
}

#[tokio::test]
async fn a_credential_of_one_org_is_no_admin_of_another() {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    let beta = e.org("beta").await;
    // ADMIN of both; the key is minted in acme.
    e.user("both@x.io")
        .member(&acme, &[Role::Admin])
        .member(&beta, &[Role::Admin])
        .create()
        .await;
    let (key, minted) = api_key(&e, "both@x.io", &acme).await;
    for p in [&key, &minted] {
        assert!(e.engine.org_admin(p, acme.id).await.is_ok());
        assert!(denied(e.engine.org_admin(p, beta.id).await));
        assert!(denied(
            e.engine.persistent_tokens_meta(p, beta.id, &[]).await
        ));
        assert!(
            e.engine
                .persistent_tokens_meta(p, acme.id, &[])
                .await
                .is_ok()
        );
        assert!(matches!(
            e.engine.check_admin_of_orgs(p, &[acme.id, beta.id]).await,
            Ok(OrgsAdminCheck::NotAdmin(o)) if o == beta.id
        ));
        assert!(matches!(
            e.engine.check_admin_of_orgs(p, &[acme.id]).await,
            Ok(OrgsAdminCheck::Ok)
        ));
    }
    // The user's own sign-in still reaches both orgs.
    let s = session(&e, "both@x.io", &acme).await;
    assert!(e.engine.org_admin(&s, beta.id).await.is_ok());
    assert!(matches!(
        e.engine.check_admin_of_orgs(&s, &[acme.id, beta.id]).await,
        Ok(OrgsAdminCheck::Ok)
    ));
}

#[tokio::test]
async fn a_team_token_acts_only_in_its_team() {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    let beta = e.org("beta").await;
    let both = e
        .user("both@x.io")
        .member(&acme, &[Role::Admin])
        .member(&beta, &[Role::Admin])
        .create()
        .await;
    let in_acme = e.store.create_workspace(acme.id, "a", None).await.unwrap();
    let in_beta = e.store.create_workspace(beta.id, "b", None).await.unwrap();
    let team = org_token(&e, "both@x.io", &acme, &beta).await;
    assert!(e.engine.org_admin(&team, beta.id).await.is_ok());
    assert!(denied(e.engine.org_admin(&team, acme.id).await));
    assert!(denied(
        e.engine
            .persistent_tokens_meta(&team, acme.id, &[both.id])
            .await
    ));
    assert!(matches!(
        e.engine.check_admin_of_orgs(&team, &[acme.id]).await,
        Ok(OrgsAdminCheck::NotAdmin(o)) if o == acme.id
    ));
    // Workspaces: the team's only.
    let listed: Vec<_> = e
        .engine
        .list_workspaces(&team, false, true)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, vec![in_beta.id]);
    assert!(e.engine.get_workspace_for(&team, in_acme.id).await.is_err());
    assert!(e.engine.get_workspace_for(&team, in_beta.id).await.is_ok());
}

#[tokio::test]
async fn a_super_admins_credential_has_no_super_admin_powers() {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    let beta = e.org("beta").await;
    // A super-admin with a plain membership of beta only.
    let root = e
        .user("root@x.io")
        .super_admin()
        .member(&beta, &[Role::Author])
        .create()
        .await;
    let member = e.user_in("m@x.io", &acme, &[]).await;
    let own = session(&e, "root@x.io", &beta).await;
    assert!(e.engine.org_admin(&own, acme.id).await.is_ok());
    assert!(
        e.engine
            .persistent_tokens_meta(&own, acme.id, &[member.id])
            .await
            .is_ok()
    );

    let (key, minted) = api_key(&e, "root@x.io", &beta).await;
    let (_, persistent, _) = e
        .engine
        .create_persistent_token(&own, root.id, &ctx())
        .await
        .unwrap();
    let persistent = e.engine.authenticate(&persistent).await.unwrap();
    assert_eq!(persistent.org, beta.id);
    let team = org_token(&e, "root@x.io", &beta, &beta).await;
    for p in [&key, &minted, &persistent, &team] {
        // Not in an org it was not minted for…
        assert!(denied(e.engine.org_admin(p, acme.id).await));
        assert!(denied(e.engine.org_admin(p, OrgId::new()).await));
        assert!(denied(
            e.engine
                .persistent_tokens_meta(p, acme.id, &[member.id])
                .await
        ));
        // …and in its own only with what the membership gives (AUTHOR: nothing here).
        assert!(denied(e.engine.org_admin(p, beta.id).await));
        assert!(denied(
            e.engine.persistent_tokens_meta(p, beta.id, &[]).await
        ));
        assert!(denied(
            e.engine.create_persistent_token(p, member.id, &ctx()).await
        ));
        assert!(denied(
            e.engine
                .revoke_persistent_tokens(p, member.id, &ctx())
                .await
        ));
    }
    // With ADMIN of beta the credential is beta's admin, still nobody in acme.
    e.join(&root, &beta, &[Role::Admin], MembershipKind::Member)
        .await;
    assert!(e.engine.org_admin(&key, beta.id).await.is_ok());
    assert!(denied(e.engine.org_admin(&key, acme.id).await));
}

#[tokio::test]
async fn persistent_token_metadata_lists_only_the_teams_credentials() {
    let e = TestEnv::new().await;
    let acme = e.org("acme").await;
    let beta = e.org("beta").await;
    e.user("root@x.io")
        .super_admin()
        .member(&beta, &[])
        .create()
        .await;
    // A member of both, acme first: a persistent token is minted in acme.
    let u = e
        .user("u@x.io")
        .member(&acme, &[])
        .member(&beta, &[])
        .create()
        .await;
    e.user_in("badmin@x.io", &beta, &[Role::Admin]).await;
    e.user_in("aadmin@x.io", &acme, &[Role::Admin]).await;
    let own = session(&e, "root@x.io", &beta).await;
    let (cred, _, org) = e
        .engine
        .create_persistent_token(&own, u.id, &ctx())
        .await
        .unwrap();
    assert_eq!(org.id, acme.id);

    let badmin = session(&e, "badmin@x.io", &beta).await;
    assert!(
        e.engine
            .persistent_tokens_meta(&badmin, beta.id, &[u.id])
            .await
            .unwrap()
            .is_empty(),
        "acme's credential is not beta's to list"
    );
    let aadmin = session(&e, "aadmin@x.io", &acme).await;
    let listed = e
        .engine
        .persistent_tokens_meta(&aadmin, acme.id, &[u.id])
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|c| c.credential.id).collect::<Vec<_>>(),
        vec![cred.id]
    );
    // A super-admin's own sign-in sees it under acme only, too.
    assert!(
        e.engine
            .persistent_tokens_meta(&own, beta.id, &[u.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        e.engine
            .persistent_tokens_meta(&own, acme.id, &[u.id])
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn switching_org_keeps_a_team_token_bound() {
    let env = TestEnv::new().await;
    let acme = env.org("acme").await;
    let beta = env.org("beta").await;
    env.user("root@x.io")
        .super_admin()
        .member(&acme, &[Role::Admin])
        .member(&beta, &[Role::Admin])
        .create()
        .await;
    let team = org_token(&env, "root@x.io", &acme, &beta).await;
    assert!(denied(env.engine.require_super_admin(&team).await));

    // Nominal setUserOrg from the team token: still a team token, never the org-wide token a
    // super-admin's own sign-in gets.
    let switched = env.engine.switch_org(&team, acme.id, &ctx()).await.unwrap();
    let switched = env.engine.authenticate(&switched.token).await.unwrap();
    assert_eq!(switched.org, acme.id);
    assert!(switched.is_org_bound());
    assert!(denied(env.engine.require_super_admin(&switched).await));
    assert!(denied(env.engine.org_admin(&switched, beta.id).await));

    // The super-admin's own session switches to an org-wide token as before.
    let own = session(&env, "root@x.io", &acme).await;
    let own = env.engine.switch_org(&own, beta.id, &ctx()).await.unwrap();
    let own = env.engine.authenticate(&own.token).await.unwrap();
    assert!(!own.is_org_bound());
    assert!(env.engine.require_super_admin(&own).await.is_ok());
}
