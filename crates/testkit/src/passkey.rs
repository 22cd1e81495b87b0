//! A software passkey for tests (feature `passkeys`): `webauthn-authenticator-rs`'s
//! authenticator answering the options the engine hands out, as a browser with a platform
//! authenticator would (user verification reported), and registering one for a user. The
//! software key keeps no discoverable credentials, so a passwordless answer is made by naming
//! the user's credentials and adding the user handle a resident key would return.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::User;
use portcullis_core::engine::OrgChoice;
use portcullis_core::factors::PasskeyAnswer;
use portcullis_core::model::{FactorId, FactorKind};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::{TestEnv, ctx};

/// A software authenticator for the relying party at `origin` (`http://localhost:…`).
pub struct SoftKey {
    key: SoftPasskey,
    origin: Url,
}

impl SoftKey {
    /// An authenticator that verifies its user (as a PIN or biometric would).
    pub fn new(origin: &str) -> SoftKey {
        SoftKey {
            key: SoftPasskey::new(true),
            origin: Url::parse(origin).expect("origin"),
        }
    }

    /// The answer to `navigator.credentials.create` with these options (`publicKey`).
    pub fn create(&mut self, options: &Value) -> Value {
        let options: CreationChallengeResponse =
            serde_json::from_value(json!({ "publicKey": options })).expect("creation options");
        let answer = self
            .key
            .do_registration(self.origin.clone(), options)
            .expect("the authenticator registers");
        serde_json::to_value(answer).expect("json")
    }

    /// The answer to `navigator.credentials.get` with these options (`publicKey`).
    pub fn get(&mut self, options: &Value) -> Value {
        let options: RequestChallengeResponse =
            serde_json::from_value(json!({ "publicKey": options })).expect("request options");
        let answer = self
            .key
            .do_authentication(self.origin.clone(), options)
            .expect("the authenticator answers");
        serde_json::to_value(answer).expect("json")
    }
}

impl TestEnv {
    /// Registers `key` as a passkey of `user` on a fresh session; returns the factor id.
    pub async fn enrol_passkey(&self, user: &User, key: &mut SoftKey) -> FactorId {
        let token = self.session(user, OrgChoice::DefaultOrNone).await;
        let p = self.engine.authenticate(&token).await.expect("session");
        let c = self
            .engine
            .start_passkey_registration(&p, &ctx())
            .await
            .expect("registration starts");
        let credential = key.create(&c.options);
        let answer = PasskeyAnswer {
            ceremony: &c.ceremony,
            credential: &credential,
        };
        self.engine
            .finish_passkey_registration(&p, answer, Some("laptop"), &ctx())
            .await
            .expect("registered")
            .factor
            .id
    }
}

impl TestEnv {
    /// The answer a discoverable credential of `key` gives to passwordless options: `user`'s
    /// passkeys named in `allowCredentials` and their user handle (our user id) added.
    pub async fn discoverable_answer(
        &self,
        user: &User,
        key: &mut SoftKey,
        options: &Value,
    ) -> Value {
        let state = self.engine.mfa_state(user.id).await.expect("state");
        let allow: Vec<Value> = state
            .factors
            .iter()
            .filter(|f| f.kind == FactorKind::Webauthn)
            .filter_map(|f| f.credential_id.clone())
            .map(|id| json!({"type": "public-key", "id": id}))
            .collect();
        let mut options = options.clone();
        options["allowCredentials"] = Value::Array(allow);
        let mut answer = key.get(&options);
        answer["response"]["userHandle"] = json!(URL_SAFE_NO_PAD.encode(user.id.0.as_bytes()));
        answer
    }
}
