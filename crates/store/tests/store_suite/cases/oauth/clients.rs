//! Clients, secret rotation, consents and the purge of expired grants.

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;

use super::signed_in;
use crate::common::*;

fn secret(hash: &str, created: i64, expires: Option<i64>) -> ClientSecret {
    ClientSecret {
        hash: hash.to_string(),
        created_at: t(created),
        expires_at: expires.map(t),
    }
}

pub async fn oauth_clients_crud(db: DbStore) {
    let s = dyn_store(&db);
    let a = org(&*s, "acme").await;
    let b = org(&*s, "beta").await;
    let zeta = oauth_client("zeta", Some(a), None);
    let mut alpha = oauth_client("alpha", None, Some("https://alpha.example/bcl"));
    alpha.secrets.push(secret("alpha-secret-2", 1, Some(50)));
    alpha.jwks = Some(serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11"}]}));
    alpha.post_logout_redirect_uris = vec!["https://alpha.example/bye".into()];
    alpha.kind = ClientKind::Public;
    alpha.token_endpoint_auth = TokenEndpointAuth::None;
    alpha.id_token_alg = IdTokenAlg::EdDsa;
    alpha.first_party = true;
    alpha.introspect_any = true;
    let mid = oauth_client("mid", Some(b), None);
    for c in [&zeta, &alpha, &mid] {
        assert_eq!(&s.create_oauth_client(c.clone()).await.unwrap(), c);
    }
    assert!(matches!(
        s.create_oauth_client(oauth_client("alpha", None, None)).await,
        Err(StoreError::Conflict(m)) if m == "oauth client id already exists"
    ));
    assert!(matches!(
        s.create_oauth_client(oauth_client("orphan", Some(OrgId::new()), None)).await,
        Err(StoreError::NotFound(m)) if m == "unknown org"
    ));
    assert_eq!(s.get_oauth_client("orphan").await.unwrap(), None);
    assert_eq!(
        s.get_oauth_client("alpha").await.unwrap(),
        Some(alpha.clone())
    );
    let ids = |v: Vec<OAuthClient>| v.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_oauth_clients(None).await.unwrap()),
        ["alpha", "mid", "zeta"]
    );
    assert_eq!(
        s.list_oauth_clients(Some(a)).await.unwrap(),
        vec![zeta.clone()]
    );

    // Update replaces every setting but the id, secrets, created_at and disabled_at.
    s.set_oauth_client_disabled("alpha", Some(t(3)))
        .await
        .unwrap();
    let mut changed = oauth_client("alpha", Some(b), None);
    changed.name = "Alpha Two".into();
    changed.redirect_uris = vec!["https://alpha.example/cb2".into()];
    changed.declarative = true;
    changed.updated_at = t(5);
    changed.secrets = Vec::new();
    changed.created_at = t(99);
    let updated = s.update_oauth_client(changed.clone()).await.unwrap();
    let expected = OAuthClient {
        secrets: alpha.secrets.clone(),
        created_at: alpha.created_at,
        disabled_at: Some(t(3)),
        ..changed.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(s.get_oauth_client("alpha").await.unwrap(), Some(expected));
    assert_eq!(
        ids(s.list_oauth_clients(Some(b)).await.unwrap()),
        ["alpha", "mid"]
    );
    assert!(matches!(
        s.update_oauth_client(oauth_client("nope", None, None)).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));

    let enabled = s.set_oauth_client_disabled("alpha", None).await.unwrap();
    assert!(!enabled.is_disabled());
    assert_eq!(enabled.updated_at, t(5));
    assert!(matches!(
        s.set_oauth_client_disabled("nope", Some(t(1))).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));
}

/// Every change to a client appends a `client` event in its own transaction (the nodes' client
/// caches drop their copies); a refused change appends none.
pub async fn oauth_client_changes_are_announced(db: DbStore) {
    let s = dyn_store(&db);
    let app = || RevocationEvent::Client("app".into());
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let c = s
        .create_oauth_client(oauth_client("app", None, None))
        .await
        .unwrap();
    assert_eq!(
        events_after(&*s, seq).await,
        [],
        "a new client is in no cache"
    );

    let mut renamed = c.clone();
    renamed.name = "App".into();
    s.update_oauth_client(renamed).await.unwrap();
    s.rotate_client_secret("app", secret("app-secret-2", 1, None), t(5))
        .await
        .unwrap();
    s.set_oauth_client_disabled("app", Some(t(6)))
        .await
        .unwrap();
    s.set_oauth_client_disabled("app", None).await.unwrap();
    assert_eq!(events_after(&*s, seq).await, [app(), app(), app(), app()]);

    // Refused changes write no event.
    let seq = s.revocation_snapshot(t(0)).await.unwrap().seq;
    let ghost = oauth_client("ghost", None, None);
    assert!(s.update_oauth_client(ghost).await.is_err());
    assert!(
        s.rotate_client_secret("ghost", secret("g", 1, None), t(5))
            .await
            .is_err()
    );
    assert!(s.set_oauth_client_disabled("ghost", None).await.is_err());
    assert!(!s.delete_oauth_client("ghost", t(7)).await.unwrap());
    assert_eq!(events_after(&*s, seq).await, []);

    assert!(s.delete_oauth_client("app", t(8)).await.unwrap());
    assert_eq!(events_after(&*s, seq).await, [app()]);
}

pub async fn oauth_client_secret_rotation_grace(db: DbStore) {
    let s = dyn_store(&db);
    let mut c = oauth_client("app", None, None);
    c.secrets.push(secret("app-secret-2", 1, Some(50)));
    s.create_oauth_client(c).await.unwrap();
    let other = oauth_client("other", None, None);
    s.create_oauth_client(other.clone()).await.unwrap();

    // The old secrets stay for the grace period, an earlier expiry is kept, the new one has none.
    s.rotate_client_secret("app", secret("app-secret-3", 10, None), t(100))
        .await
        .unwrap();
    let secrets = s.get_oauth_client("app").await.unwrap().unwrap().secrets;
    assert_eq!(
        secrets,
        vec![
            secret("app-secret-1", 0, Some(100)),
            secret("app-secret-2", 1, Some(50)),
            secret("app-secret-3", 10, None),
        ]
    );
    let live = |now: i64| {
        secrets
            .iter()
            .filter(|x| x.is_live(t(now)))
            .map(|x| x.hash.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(live(49), ["app-secret-1", "app-secret-2", "app-secret-3"]);
    assert_eq!(live(60), ["app-secret-1", "app-secret-3"]);
    assert_eq!(live(100), ["app-secret-3"]);

    // A second rotation caps every other secret again, the previous new one included.
    s.rotate_client_secret("app", secret("app-secret-4", 20, None), t(30))
        .await
        .unwrap();
    let secrets = s.get_oauth_client("app").await.unwrap().unwrap().secrets;
    assert_eq!(
        secrets
            .iter()
            .map(|x| (x.hash.as_str(), x.expires_at))
            .collect::<Vec<_>>(),
        vec![
            ("app-secret-1", Some(t(30))),
            ("app-secret-2", Some(t(30))),
            ("app-secret-3", Some(t(30))),
            ("app-secret-4", None),
        ]
    );
    // Another client's secrets are untouched; the same hash is refused.
    assert_eq!(s.get_oauth_client("other").await.unwrap(), Some(other));
    assert!(matches!(
        s.rotate_client_secret("app", secret("app-secret-4", 21, None), t(40)).await,
        Err(StoreError::Conflict(m)) if m == "client secret already exists"
    ));
    // The refused rotation capped nothing.
    let after = s.get_oauth_client("app").await.unwrap().unwrap().secrets;
    assert_eq!(after, secrets);
    assert!(matches!(
        s.rotate_client_secret("nope", secret("x", 1, None), t(40)).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));

    // Concurrent rotations run one after the other: one secret is left without an expiry.
    let racers: Vec<_> = (0..6)
        .map(|i| {
            let s = std::sync::Arc::clone(&s);
            tokio::spawn(async move {
                let new = secret(&format!("racer-{i}"), 50 + i, None);
                s.rotate_client_secret("app", new, t(60)).await.unwrap();
            })
        })
        .collect();
    for r in racers {
        r.await.unwrap();
    }
    let secrets = s.get_oauth_client("app").await.unwrap().unwrap().secrets;
    assert_eq!(secrets.len(), 10);
    let open: Vec<_> = secrets.iter().filter(|x| x.expires_at.is_none()).collect();
    assert_eq!(open.len(), 1, "{secrets:?}");
}

async fn upsert(s: &dyn Store, consent: Consent) -> StoreResult<()> {
    let mut tx = s.begin_write().await?;
    tx.upsert_consent(consent).await?;
    tx.commit().await
}

pub async fn oauth_consents(db: DbStore) {
    let s = dyn_store(&db);
    let o = org(&*s, "acme").await;
    let u = member(&*s, "u@x.io", o, &[]).await;
    let v = member(&*s, "v@x.io", o, &[]).await;
    for id in ["beta", "alpha"] {
        s.create_oauth_client(oauth_client(id, None, None))
            .await
            .unwrap();
    }
    let consent = |user: UserId, client: &str, scopes: &[&str], at: i64| Consent {
        user_id: user,
        client_id: client.to_string(),
        scopes: scopes.iter().map(|x| x.to_string()).collect(),
        granted_at: t(at),
    };
    upsert(&*s, consent(u.id, "beta", &["openid"], 1))
        .await
        .unwrap();
    upsert(&*s, consent(u.id, "alpha", &["openid", "email"], 2))
        .await
        .unwrap();
    upsert(&*s, consent(v.id, "alpha", &["openid"], 3))
        .await
        .unwrap();
    assert_eq!(
        s.get_consent(u.id, "beta").await.unwrap(),
        Some(consent(u.id, "beta", &["openid"], 1))
    );
    // A second grant replaces the scopes and the time.
    upsert(&*s, consent(u.id, "beta", &["openid", "profile"], 4))
        .await
        .unwrap();
    assert_eq!(
        s.list_user_consents(u.id).await.unwrap(),
        vec![
            consent(u.id, "alpha", &["openid", "email"], 2),
            consent(u.id, "beta", &["openid", "profile"], 4),
        ]
    );
    assert!(matches!(
        upsert(&*s, consent(u.id, "nope", &["openid"], 5)).await,
        Err(StoreError::NotFound(m)) if m == "unknown oauth client"
    ));
    assert!(s.delete_consent(u.id, "alpha").await.unwrap());
    assert!(!s.delete_consent(u.id, "alpha").await.unwrap());
    assert_eq!(s.get_consent(u.id, "alpha").await.unwrap(), None);
    assert_eq!(s.list_user_consents(v.id).await.unwrap().len(), 1);
}

pub async fn oauth_purge_expired_grants(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await;
    let g = grant_session("g", u.id, o, "app", Some("b"), false);
    s.create_session(g.clone()).await.unwrap();
    let mut old_code = auth_code("old-code", "app", "b", u.id, o);
    old_code.expires_at = t(5);
    for c in [old_code, auth_code("new-code", "app", "b", u.id, o)] {
        s.insert_authorization_code(c).await.unwrap();
    }
    let mut tx = s.begin_write().await.unwrap();
    tx.insert_refresh_token(refresh_token("old-rt", &g, t(5)))
        .await
        .unwrap();
    tx.insert_refresh_token(refresh_token("new-rt", &g, t(100)))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(s.purge_oauth_grants(t(4)).await.unwrap(), 0);
    assert_eq!(s.purge_oauth_grants(t(5)).await.unwrap(), 2);
    assert_eq!(s.purge_oauth_grants(t(5)).await.unwrap(), 0);
    assert_eq!(s.get_refresh_token("old-rt").await.unwrap(), None);
    assert!(s.get_refresh_token("new-rt").await.unwrap().is_some());
    let mut tx = s.begin_write().await.unwrap();
    assert_eq!(
        tx.redeem_authorization_code("old-code", t(6))
            .await
            .unwrap(),
        CodeRedemption::Unknown
    );
    assert!(matches!(
        tx.redeem_authorization_code("new-code", t(6))
            .await
            .unwrap(),
        CodeRedemption::Redeemed(_)
    ));
}
