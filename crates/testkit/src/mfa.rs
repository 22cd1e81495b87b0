//! Second factors for tests: enrol a TOTP factor for a user and compute its codes (`totp-rs`,
//! from the `otpauth://` URI the engine hands out, as an authenticator app would).

use std::time::Duration;

use portcullis_core::engine::OrgChoice;
use portcullis_core::{FactorId, User};

use crate::{TestEnv, ctx};

/// An enrolled TOTP factor.
pub struct Totp {
    pub uri: String,
    pub factor: FactorId,
    pub recovery_codes: Vec<String>,
}

/// The code of the step holding `unix` for the factor behind `uri`.
pub fn totp_code(uri: &str, unix: u64) -> String {
    totp_rs::Totp::from_url(uri)
        .expect("otpauth uri")
        .generate(unix)
        .to_string()
}

/// Unix seconds now, after waiting out the last seconds of a 30 s step, so that a code computed
/// now, and the next step's, stay within the window of the checks that follow.
pub async fn settled_now() -> u64 {
    loop {
        let t = chrono::Utc::now().timestamp();
        if t % 30 < 24 {
            return u64::try_from(t).expect("after 1970");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl Totp {
    /// The code of the step `steps` after the one holding `unix` (each step's code is accepted
    /// once; the check allows one step either side).
    pub fn code(&self, unix: u64, steps: i64) -> String {
        let at = i64::try_from(unix).expect("unix seconds") + 30 * steps;
        totp_code(&self.uri, u64::try_from(at).expect("after 1970"))
    }
}

impl TestEnv {
    /// Enrols a TOTP factor for `user` (who has none) on a fresh session, confirmed with the
    /// previous step's code so that the current and next steps stay unused.
    pub async fn enrol_totp(&self, user: &User) -> Totp {
        let token = self.session(user, OrgChoice::DefaultOrNone).await;
        let p = self.engine.authenticate(&token).await.expect("session");
        let t = settled_now().await;
        let started = self
            .engine
            .start_totp_enrolment(&p, Some("phone"), &ctx())
            .await
            .expect("enrolment");
        let uri = started.otpauth_uri.to_string();
        let confirmed = self
            .engine
            .confirm_totp_enrolment(&p, started.factor, &totp_code(&uri, t - 30), &ctx())
            .await
            .expect("confirmed");
        Totp {
            uri,
            factor: started.factor,
            recovery_codes: confirmed
                .recovery_codes
                .expect("a first factor brings recovery codes")
                .iter()
                .map(|c| c.to_string())
                .collect(),
        }
    }
}

impl TestEnv {
    /// Sets the org's MFA policy mode, as `portcullis admin org mfa-policy` does.
    pub async fn set_mfa_mode(&self, org: &str, mode: portcullis_core::MfaMode) {
        let admin = portcullis_core::admin::Admin::new(
            std::sync::Arc::clone(&self.store),
            &portcullis_core::config::CoreConfig::default(),
            "test",
        );
        admin
            .set_org_mfa_policy(org, Some(mode), None)
            .await
            .expect("policy");
    }
}
