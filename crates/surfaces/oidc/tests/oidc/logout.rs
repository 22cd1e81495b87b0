//! RP-initiated logout and back-channel logout notices.

use parking_lot::Mutex;
use portcullis_core::oidc::{BACKCHANNEL_EVENT, LogoutSender};

use super::*;

/// Records what would have been posted; fails the first `fail_first` posts.
#[derive(Default)]
struct Recorder {
    posts: Mutex<Vec<(String, String)>>,
    fail_first: Mutex<u32>,
}

#[async_trait::async_trait]
impl LogoutSender for Recorder {
    async fn post_logout_token(&self, uri: &str, token: &str) -> Result<(), String> {
        let mut fail = self.fail_first.lock();
        if *fail > 0 {
            *fail -= 1;
            return Err("connection refused".into());
        }
        self.posts.lock().push((uri.to_string(), token.to_string()));
        Ok(())
    }
}

const BACKCHANNEL: &str = "https://app.example.test/backchannel";

async fn listening_world() -> World {
    let w = world().await;
    let mut c = client("app", None);
    c.backchannel_logout_uri = Some(BACKCHANNEL.into());
    w.env.store.update_oauth_client(c).await.unwrap();
    w
}

#[tokio::test]
async fn rp_initiated_logout_with_a_hint_ends_the_sign_in_and_returns_to_the_client() {
    let w = listening_world().await;
    let cookie = w.cookie_for(&w.user).await;
    let t = w.redeem(&w.code(&cookie, &[]).await).await.body;
    let id_token = t["id_token"].as_str().unwrap();
    let url = format!(
        "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye-1",
        form_escape("https://app.example.test/bye")
    );
    let r = w.app.get(&url).cookie(cookie.as_str()).send().await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        r.header("location"),
        "https://app.example.test/bye?state=bye-1"
    );
    assert_eq!(r.cookie("portcullis-session").as_deref(), Some(""));
    let token = cookie.trim_start_matches("portcullis-session=");
    assert!(w.provider.browser_sign_in(token).await.is_none());
    assert_eq!(
        w.userinfo(t["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The client hears of it on its back channel, with a logout token for the sign-in.
    let recorder = Recorder::default();
    assert_eq!(
        w.provider.deliver_logout_notices(&recorder).await.unwrap(),
        1
    );
    let posts = recorder.posts.lock().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0, BACKCHANNEL);
    let lt = claims(&posts[0].1);
    assert_eq!(lt["iss"], ISSUER);
    assert_eq!(lt["aud"], "app");
    assert_eq!(lt["sub"], w.user.id.0.to_string());
    assert_eq!(lt["sid"], claims(id_token)["sid"]);
    assert!(lt["events"][BACKCHANNEL_EVENT].is_object());
    assert!(lt.get("nonce").is_none());
    assert_eq!(
        w.provider.deliver_logout_notices(&recorder).await.unwrap(),
        0,
        "delivered once"
    );
    assert_eq!(w.env.audit_events("oidc.backchannel_logout").await.len(), 1);
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_is_a_page() {
    let w = world().await;
    let t = w.tokens(&[]).await;
    let url = format!(
        "/oauth2/logout?id_token_hint={}&post_logout_redirect_uri={}",
        t["id_token"].as_str().unwrap(),
        form_escape("https://evil.example/")
    );
    let r = w.app.get(&url).send().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header("location").is_empty());
    let r = w
        .app
        .get("/oauth2/logout?id_token_hint=forged.token.here")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let r = w
        .app
        .get("/oauth2/logout")
        .cookie(cookie.as_str())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("id=\"sign-out\""));
    assert_eq!(form_action(&r), "form-action 'self'");
    let token = cookie.trim_start_matches("portcullis-session=");
    assert!(
        w.provider.browser_sign_in(token).await.is_some(),
        "a GET alone signs nobody out"
    );
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    let r = w
        .app
        .post("/oauth2/logout")
        .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
        .form(&[("csrf", &csrf), ("confirm", "yes")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("signed-out"));
    assert!(w.provider.browser_sign_in(token).await.is_none());
}

#[tokio::test]
async fn the_confirmation_form_may_end_at_the_registered_post_logout_uri() {
    let w = world().await;
    let cookie = w.cookie_for(&w.user).await;
    let url = format!(
        "/oauth2/logout?client_id=app&post_logout_redirect_uri={}&state=s-1",
        form_escape("https://app.example.test/bye")
    );
    let r = w.app.get(&url).cookie(cookie.as_str()).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        form_action(&r),
        "form-action 'self' https://app.example.test"
    );
    let csrf = r.cookie("portcullis-oidc-csrf").unwrap();
    let r = w
        .app
        .post("/oauth2/logout")
        .cookie(format!("{cookie}; portcullis-oidc-csrf={csrf}").as_str())
        .form(&[
            ("csrf", csrf.as_str()),
            ("confirm", "yes"),
            ("client_id", "app"),
            ("post_logout_redirect_uri", "https://app.example.test/bye"),
            ("state", "s-1"),
        ])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(
        r.header("location"),
        "https://app.example.test/bye?state=s-1"
    );
}

#[tokio::test]
async fn every_session_end_notifies_and_failed_deliveries_are_retried() {
    let w = listening_world().await;
    let _t = w.tokens(&[]).await;
    // An admin ending every session of the user (not a logout) also notifies.
    w.env
        .engine
        .end_user_sessions(w.user.id, None, None, &portcullis_testkit::ctx())
        .await
        .unwrap();
    let recorder = Recorder::default();
    *recorder.fail_first.lock() = 1;
    assert_eq!(
        w.provider.deliver_logout_notices(&recorder).await.unwrap(),
        1
    );
    assert!(recorder.posts.lock().is_empty());
    let notices = w.env.store.list_logout_notices("app", 10).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].attempts, 1);
    assert!(notices[0].delivered_at.is_none() && notices[0].next_attempt_at > Utc::now());
    let failures = w.env.audit_events("oidc.backchannel_logout").await;
    assert_eq!(failures[0].outcome, AuditOutcome::Failure);
}
