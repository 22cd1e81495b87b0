//! Passkeys over HTTP (docs/design/mfa.md "Passkeys"), with `webauthn-authenticator-rs`'s
//! software authenticator answering the options the API hands out: registration with a name,
//! listing, the second step of the JSON sign-in, passwordless sign-in, a passkey
//! re-authentication before removal, and the refusals.

use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::*;

const ORIGIN: &str = "http://localhost:8080";

async fn passkey_world() -> World {
    let mut cfg = config();
    cfg.public_url = ORIGIN.into();
    world_with(cfg).await
}

fn create(key: &mut SoftPasskey, options: &Value) -> Value {
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options})).unwrap();
    let a = key
        .do_registration(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    serde_json::to_value(a).unwrap()
}

fn get(key: &mut SoftPasskey, options: &Value) -> Value {
    let options: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": options})).unwrap();
    let a = key
        .do_authentication(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    serde_json::to_value(a).unwrap()
}

impl World {
    /// Registers a passkey named `name` on a fresh session; returns the factor id.
    async fn register_passkey(&self, token: &str, key: &mut SoftPasskey, name: &str) -> String {
        let r = self
            .post("/account/v1/factors/passkeys", Some(token), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["publicKey"]["rp"]["id"], "localhost");
        let cred = create(key, &r.body["publicKey"]);
        let body = json!({"ceremony": r.body["ceremony"], "credential": cred, "name": name});
        let r = self
            .post("/account/v1/factors/passkeys/confirm", Some(token), body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["factor"]["kind"], "webauthn");
        assert_eq!(r.body["factor"]["name"], name);
        r.body["factor"]["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn register_then_sign_in_with_a_passkey() {
    let w = passkey_world().await;
    let ann = w.user("ann@x.io").await;
    let token = w.login("ann@x.io", PW).await.unwrap();
    let mut key = SoftPasskey::new(true);
    let id = w.register_passkey(&token, &mut key, "laptop").await;
    let listed = w.get("/account/v1/factors", &token).await;
    assert_eq!(listed.body["factors"][0]["name"], "laptop");
    assert_eq!(listed.body["factors"][0]["kind"], "webauthn");
    assert_eq!(listed.body["signIn"], "second_factor");

    // Password, then the passkey.
    let r = w
        .post(
            "/account/v1/sign-in",
            None,
            json!({"email": "ann@x.io", "password": PW}),
        )
        .await;
    assert_eq!(r.body["status"], "second_factor", "{}", r.body);
    assert_eq!(r.body["methods"], json!(["webauthn"]));
    let challenge = r.body["challenge"].clone();
    let r = w
        .post(
            "/account/v1/sign-in/second-factor/passkey",
            None,
            json!({"challenge": challenge}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let a = get(&mut key, &r.body["publicKey"]);
    let passkey = json!({"ceremony": r.body["ceremony"], "credential": a});
    let body = json!({"challenge": challenge, "passkey": passkey});
    let r = w
        .post("/account/v1/sign-in/second-factor", None, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["authMethods"], json!(["pwd", "swk", "mfa"]));
    // Replayed: the challenge and the ceremony are spent.
    let r = w
        .post("/account/v1/sign-in/second-factor", None, body)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    // Passwordless: the options name no credential; the key's answer carries the user handle.
    let r = w.post("/account/v1/sign-in/passkey", None, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["publicKey"]["userVerification"], "required");
    let mut options = r.body["publicKey"].clone();
    let cred_id = w.engine.mfa_state(ann.id).await.unwrap().factors[0]
        .credential_id
        .clone();
    options["allowCredentials"] = json!([{"type": "public-key", "id": cred_id}]);
    let mut a = get(&mut key, &options);
    a["response"]["userHandle"] = json!(base64url(ann.id.0.as_bytes()));
    let body = json!({"ceremony": r.body["ceremony"], "credential": a});
    let r = w
        .post("/account/v1/sign-in/passkey/finish", None, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "signed_in");
    assert_eq!(r.body["authMethods"], json!(["swk", "mfa"]));
    let r = w
        .post("/account/v1/sign-in/passkey/finish", None, body)
        .await;
    r.account_problem(StatusCode::UNAUTHORIZED, "invalid_token");

    // Removal needs a recent authentication: this session's password is not enough, a
    // passkey re-authentication is.
    let path = format!("/account/v1/factors/{id}");
    w.delete(&path, &token)
        .await
        .account_problem(StatusCode::FORBIDDEN, "reauthentication_required");
    let r = w
        .post(
            "/account/v1/reauthenticate/passkey",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let a = get(&mut key, &r.body["publicKey"]);
    let body = json!({"passkey": {"ceremony": r.body["ceremony"], "credential": a}});
    let r = w
        .post("/account/v1/reauthenticate", Some(&token), body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(w.delete(&path, &token).await.status, StatusCode::NO_CONTENT);
}

fn base64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn passkey_refusals() {
    let w = passkey_world().await;
    w.user("ann@x.io").await;
    let token = w.login("ann@x.io", PW).await.unwrap();
    // Not a credential; a made-up ceremony; two proofs at once.
    let r = w
        .post("/account/v1/factors/passkeys", Some(&token), json!({}))
        .await;
    let body = json!({"ceremony": r.body["ceremony"], "credential": {"id": 1}});
    w.post("/account/v1/factors/passkeys/confirm", Some(&token), body)
        .await
        .account_problem(StatusCode::BAD_REQUEST, "invalid_argument");
    let mut key = SoftPasskey::new(true);
    let cred = create(&mut key, &r.body["publicKey"]);
    let body = json!({"ceremony": "made-up", "credential": cred});
    w.post("/account/v1/factors/passkeys/confirm", Some(&token), body)
        .await
        .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    let body = json!({"challenge": "x", "totpCode": "123456", "passkey": {"ceremony": "c", "credential": {}}});
    w.post("/account/v1/sign-in/second-factor", None, body)
        .await
        .account_problem(StatusCode::BAD_REQUEST, "invalid_request");
    // Unknown fields are refused.
    let body = json!({"ceremony": "c", "credential": {}, "extra": 1});
    w.post("/account/v1/sign-in/passkey/finish", None, body)
        .await
        .account_problem(StatusCode::BAD_REQUEST, "invalid_request");
    // A stopped sign-in that does not exist.
    w.post(
        "/account/v1/sign-in/second-factor/passkey",
        None,
        json!({"challenge": "nope"}),
    )
    .await
    .account_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    // Without a session: no registration.
    assert_eq!(
        w.post("/account/v1/factors/passkeys", None, json!({}))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_ip_public_url_cannot_host_passkeys() {
    let w = world().await;
    let r = w.post("/account/v1/sign-in/passkey", None, json!({})).await;
    let detail = r.account_problem(StatusCode::BAD_REQUEST, "invalid_argument");
    assert!(detail.contains("public_url"), "{detail}");
}
