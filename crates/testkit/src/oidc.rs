//! OpenID provider records for tests: a client's grant session and a user's consent, written
//! straight to the store as the protocol endpoints would.

use chrono::{Duration, Utc};
use portcullis_core::{Consent, Org, Session, SessionGrant, SessionId, SessionKind, User};

use crate::TestEnv;

impl TestEnv {
    /// A live grant session (one hour, no parent) of `client_id` for `user` in `org`.
    pub async fn grant_session(&self, user: &User, org: &Org, client_id: &str) -> Session {
        let now = Utc::now();
        let s = Session {
            id: SessionId::generate(),
            user_id: user.id,
            org_id: org.id,
            kind: SessionKind::Login,
            amr: vec!["pwd".into()],
            actor_id: None,
            created_at: now,
            expires_at: now + Duration::hours(1),
            idle_timeout_secs: None,
            last_seen_at: now,
            revoked_at: None,
            ip: None,
            user_agent: None,
            grant: Some(SessionGrant {
                client_id: client_id.into(),
                parent: None,
                offline: false,
            }),
        };
        self.store.create_session(s.clone()).await.expect("session");
        s
    }

    /// Records `user`'s consent to `client_id` for `scopes`, granted now.
    pub async fn consent(&self, user: &User, client_id: &str, scopes: &[&str]) {
        let mut tx = self.store.begin_write().await.expect("unit");
        tx.upsert_consent(Consent {
            user_id: user.id,
            client_id: client_id.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            granted_at: Utc::now(),
        })
        .await
        .expect("consent");
        tx.commit().await.expect("commit");
    }
}
