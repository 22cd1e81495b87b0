//! Self-registered clients (RFC 7591/7592, metadata documents) and initial access tokens.

use portcullis_core::model::*;
use portcullis_core::store::*;
use portcullis_store::DbStore;
use uuid::Uuid;

use super::signed_in;
use crate::common::*;

fn registration(id: &str, token_hash: Option<&str>) -> ClientRegistration {
    ClientRegistration {
        client_id: id.to_string(),
        source: RegistrationSource::Dynamic,
        metadata: serde_json::json!({ "client_name": id, "redirect_uris": ["https://x.example/cb"] }),
        access_token_hash: token_hash.map(str::to_string),
        refresh_after: None,
        created_at: t(1),
        updated_at: t(1),
    }
}

fn initial(hash: &str, expires: Option<i64>, max_uses: Option<i64>) -> InitialAccessToken {
    InitialAccessToken {
        id: Uuid::new_v4(),
        token_hash: hash.to_string(),
        label: "ci".into(),
        created_at: t(1),
        expires_at: expires.map(t),
        max_uses,
        uses: 0,
        revoked_at: None,
    }
}

pub async fn registered_clients_create_update_and_retire(db: DbStore) {
    let s = dyn_store(&db);
    let (o, u) = signed_in(&*s).await; // an operator's client "app" with a browser session
    let reg = registration("dyn", Some("rat-1"));
    let created = s
        .create_registered_client(oauth_client("dyn", None, None), reg.clone(), None)
        .await
        .unwrap();
    assert_eq!(created.client_id, "dyn");
    assert_eq!(
        s.get_client_registration("dyn").await.unwrap(),
        Some(reg.clone())
    );
    assert_eq!(s.get_client_registration("app").await.unwrap(), None);
    assert!(matches!(
        s.create_registered_client(oauth_client("dyn", None, None), reg.clone(), None)
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Update: settings, registration and a new secret that ends the older ones at once.
    let mut changed = created.clone();
    changed.name = "Renamed".into();
    changed.updated_at = t(5);
    let reg2 = ClientRegistration {
        access_token_hash: Some("rat-2".into()),
        updated_at: t(5),
        ..reg.clone()
    };
    let new_secret = ClientSecret {
        hash: "new-secret".into(),
        created_at: t(5),
        expires_at: None,
    };
    let after = s
        .update_registered_client(changed, reg2.clone(), Some(new_secret.clone()))
        .await
        .unwrap();
    assert_eq!(after.name, "Renamed");
    assert!(after.secrets.contains(&new_secret));
    assert!(
        after
            .secrets
            .iter()
            .filter(|x| x.hash != "new-secret")
            .all(|x| !x.is_live(t(6))),
        "older secrets end at once"
    );
    assert_eq!(s.get_client_registration("dyn").await.unwrap(), Some(reg2));
    // A client without a registration is not updated this way.
    let app = s.get_oauth_client("app").await.unwrap().unwrap();
    assert!(matches!(
        s.update_registered_client(app, registration("app", None), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.retire_registered_client("app", t(7)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !s.get_oauth_client("app")
            .await
            .unwrap()
            .unwrap()
            .is_disabled()
    );

    // Retire: disabled, token forgotten, its grant sessions ended with events.
    s.create_session(grant_session("g", u.id, o, "dyn", Some("b"), false))
        .await
        .unwrap();
    let before = events_after(&*s, 0).await.len();
    assert_eq!(s.retire_registered_client("dyn", t(8)).await.unwrap(), 1);
    let c = s.get_oauth_client("dyn").await.unwrap().unwrap();
    assert_eq!(c.disabled_at, Some(t(8)));
    assert_eq!(
        s.get_client_registration("dyn")
            .await
            .unwrap()
            .unwrap()
            .access_token_hash,
        None
    );
    assert!(events_after(&*s, 0).await.len() > before);
    // A retry keeps the first time.
    s.retire_registered_client("dyn", t(9)).await.unwrap();
    assert_eq!(
        s.get_oauth_client("dyn")
            .await
            .unwrap()
            .unwrap()
            .disabled_at,
        Some(t(8))
    );
    // Deleting the client removes its registration with it.
    assert!(s.delete_oauth_client("dyn", t(10)).await.unwrap());
    assert_eq!(s.get_client_registration("dyn").await.unwrap(), None);
}

pub async fn initial_access_tokens_are_spent_atomically(db: DbStore) {
    let s = dyn_store(&db);
    let now = t(100);
    let once = initial("once", None, Some(1));
    let expired = initial("expired", Some(50), None);
    let revoked = initial("revoked", None, None);
    for tok in [&once, &expired, &revoked] {
        s.create_initial_access_token(tok.clone()).await.unwrap();
    }
    assert!(matches!(
        s.create_initial_access_token(initial("once", None, None))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.revoke_initial_access_token(revoked.id, t(60))
            .await
            .unwrap()
    );
    assert!(
        !s.revoke_initial_access_token(Uuid::new_v4(), t(60))
            .await
            .unwrap()
    );
    let reg = |id: &str| registration(id, None);
    let make = |id: &str| oauth_client(id, None, None);
    for (hash, id) in [("expired", "e1"), ("revoked", "r1"), ("unknown", "u1")] {
        assert!(
            matches!(
                s.create_registered_client(make(id), reg(id), Some((hash, now)))
                    .await,
                Err(StoreError::NotFound(_))
            ),
            "{hash}"
        );
        assert_eq!(
            s.get_oauth_client(id).await.unwrap(),
            None,
            "nothing written for {hash}"
        );
    }
    // Two registrations race for the one use: exactly one wins.
    let (a, b) = tokio::join!(
        s.create_registered_client(make("c1"), reg("c1"), Some(("once", now))),
        s.create_registered_client(make("c2"), reg("c2"), Some(("once", now))),
    );
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1);
    let listed = s.list_initial_access_tokens().await.unwrap();
    assert_eq!(listed.len(), 3);
    let spent = s.get_initial_access_token("once").await.unwrap().unwrap();
    assert_eq!(spent.uses, 1);
    assert!(!spent.is_usable(now));
    assert!(
        s.get_initial_access_token("revoked")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}
