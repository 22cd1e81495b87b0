//! Passkeys over JSON (docs/design/mfa.md "Passkeys"): registration on the caller's recently
//! authenticated session, a passkey re-authentication, the second step of the JSON sign-in,
//! and the passwordless sign-in. Each start answers the options for
//! `navigator.credentials.create` / `.get` (`publicKey`, base64url binary fields) and a
//! ceremony handle; each finish takes the handle and the browser's credential JSON. Listing and
//! removal are the factor endpoints'. The checks are the engine's (webauthn-rs).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use portcullis_core::engine::{Engine, OrgChoice, SecondFactorProof};
use portcullis_core::factors::{PasskeyAnswer, PasskeyCeremony, SignInStep};
use portcullis_core::model::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::factors::{Confirmed, SignInJson, challenge_json};
use crate::handlers::Secret;
use portcullis_edge::{Caller, JsonBody, Origin, Problem};

type Result<T, E = Problem> = std::result::Result<T, E>;

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyJson {
    /// Send back with the browser's answer; single use.
    ceremony: String,
    /// `PublicKeyCredentialCreationOptions` / `RequestOptions` (base64url binary fields).
    public_key: Value,
    expires_at: Timestamp,
}

impl From<PasskeyCeremony> for CeremonyJson {
    fn from(c: PasskeyCeremony) -> Self {
        CeremonyJson {
            ceremony: c.ceremony,
            public_key: c.options,
            expires_at: c.expires_at,
        }
    }
}

/// A browser's answer: the ceremony handle and the `PublicKeyCredential` as JSON.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Answer {
    ceremony: Secret,
    credential: Value,
}

impl Answer {
    pub(crate) fn proof(&self) -> PasskeyAnswer<'_> {
        PasskeyAnswer {
            ceremony: self.ceremony.expose(),
            credential: &self.credential,
        }
    }
}

/// `POST /account/v1/factors/passkeys`: starts a registration (recent authentication needed).
pub async fn start_registration(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
) -> Result<(StatusCode, Json<CeremonyJson>)> {
    let c = engine.start_passkey_registration(&p, &origin.audit).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    ceremony: Secret,
    credential: Value,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /account/v1/factors/passkeys/confirm`: the browser's answer and a name.
pub async fn finish_registration(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<Registration>,
) -> Result<Json<Confirmed>> {
    let answer = PasskeyAnswer {
        ceremony: body.ceremony.expose(),
        credential: &body.credential,
    };
    let c = engine
        .finish_passkey_registration(&p, answer, body.name.as_deref(), &origin.audit)
        .await?;
    Ok(Json(Confirmed::new(c.factor, c.recovery_codes)))
}

/// `POST /account/v1/reauthenticate/passkey`: options for a passkey re-authentication; finish
/// with `POST /account/v1/reauthenticate {"passkey": {ceremony, credential}}`.
pub async fn start_reauth(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
) -> Result<Json<CeremonyJson>> {
    Ok(Json(engine.start_passkey_reauth(&p).await?.into()))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Challenge {
    challenge: Secret,
}

/// `POST /account/v1/sign-in/second-factor/passkey`: options for answering a stopped sign-in
/// with a passkey; finish with `POST /account/v1/sign-in/second-factor {challenge, passkey}`.
pub async fn start_second_factor(
    State(engine): State<Arc<Engine>>,
    origin: Origin,
    JsonBody(body): JsonBody<Challenge>,
) -> Result<Json<CeremonyJson>> {
    engine.check_ip_rate(origin.ip)?;
    let c = engine
        .start_second_factor_passkey(body.challenge.expose())
        .await?;
    Ok(Json(c.into()))
}

/// `POST /account/v1/sign-in/passkey`: options for a passwordless sign-in (discoverable
/// credential, user verification required).
pub async fn start_passwordless(
    State(engine): State<Arc<Engine>>,
    origin: Origin,
) -> Result<Json<CeremonyJson>> {
    engine.check_ip_rate(origin.ip)?;
    Ok(Json(engine.start_passkey_sign_in().await?.into()))
}

/// `POST /account/v1/sign-in/passkey/finish`: the browser's answer; a session (two factors when
/// the authenticator verified the user), or the second step the policy still asks for.
pub async fn finish_passwordless(
    State(engine): State<Arc<Engine>>,
    origin: Origin,
    JsonBody(body): JsonBody<Answer>,
) -> Result<Json<SignInJson>> {
    engine.check_ip_rate(origin.ip)?;
    let step = engine
        .finish_passkey_sign_in(body.proof(), OrgChoice::Default, &origin.audit)
        .await?;
    Ok(Json(match step {
        SignInStep::SignedIn(g) => (*g).into(),
        SignInStep::SecondFactor(c) => challenge_json(c, false),
        SignInStep::Enrolment(c) => challenge_json(c, true),
    }))
}

/// The passkey member of a second step or re-authentication.
pub(crate) fn proof(answer: &Answer) -> SecondFactorProof<'_> {
    SecondFactorProof::Passkey(answer.proof())
}
