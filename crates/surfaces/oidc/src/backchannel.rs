//! Back-channel logout delivery over HTTP (Back-Channel Logout §2.5): a form POST of
//! `logout_token`, no redirects followed, a short timeout; 2xx is delivered.

use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::oidc::LogoutSender;

#[derive(Debug, Clone)]
pub struct HttpLogoutSender {
    http: reqwest::Client,
}

impl HttpLogoutSender {
    pub fn new() -> Result<HttpLogoutSender, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .user_agent("portcullis-backchannel-logout")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpLogoutSender { http })
    }
}

#[async_trait]
impl LogoutSender for HttpLogoutSender {
    async fn post_logout_token(&self, uri: &str, logout_token: &str) -> Result<(), String> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", logout_token)
            .finish();
        let answer = self
            .http
            .post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cache-control", "no-store")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the client answered {status}"))
        }
    }
}
