//! Second factors (docs/design/mfa.md): the caller's factors, TOTP enrolment, removal, recovery
//! codes and re-authentication; and the JSON sign-in that stops after the password when a
//! second factor is needed. Rules are the engine's.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use portcullis_core::CoreError;
use portcullis_core::engine::{Engine, LoginGrant, OrgChoice, SecondFactorProof};
use portcullis_core::factors::{FactorView, MfaChallenge, ReauthProof, SignInStep};
use portcullis_core::model::{FactorId, FactorKind, MfaRequirement, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::handlers::Secret;
use portcullis_edge::{Caller, JsonBody, Origin, Problem};

type Result<T, E = Problem> = std::result::Result<T, E>;

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FactorJson {
    id: FactorId,
    kind: FactorKind,
    name: String,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
}

impl From<FactorView> for FactorJson {
    fn from(f: FactorView) -> Self {
        FactorJson {
            id: f.id,
            kind: f.kind,
            name: f.name,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyJson {
    mfa: &'static str,
    passkeys_only: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FactorList {
    factors: Vec<FactorJson>,
    recovery_codes_left: u32,
    /// The policy that applies: the strictest of the caller's orgs'.
    policy: PolicyJson,
    /// What the caller's next sign-in needs: `password`, `second_factor` or
    /// `enrolment_required`.
    sign_in: &'static str,
}

fn sign_in_name(r: &MfaRequirement) -> &'static str {
    match r {
        MfaRequirement::None => "password",
        MfaRequirement::SecondFactor { .. } => "second_factor",
        MfaRequirement::Enrolment { .. } => "enrolment_required",
    }
}

/// `GET /account/v1/factors`
pub async fn list(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
) -> Result<Json<FactorList>> {
    let o = engine.list_factors(&p).await?;
    Ok(Json(FactorList {
        factors: o.factors.into_iter().map(FactorJson::from).collect(),
        recovery_codes_left: o.recovery_codes_left,
        policy: PolicyJson {
            mfa: o.policy.mode.as_str(),
            passkeys_only: o.policy.passkeys_only,
        },
        sign_in: sign_in_name(&o.requirement),
    }))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartTotp {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrolmentJson {
    factor_id: FactorId,
    /// Holds the secret: shown once.
    otpauth_uri: String,
    /// The URI as a QR code (a standalone SVG document).
    qr_svg: String,
    expires_at: Timestamp,
}

/// `POST /account/v1/factors/totp`: starts an enrolment (recent authentication needed).
pub async fn start_totp(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<StartTotp>,
) -> Result<(StatusCode, Json<TotpEnrolmentJson>)> {
    let e = engine
        .start_totp_enrolment(&p, body.name.as_deref(), &origin.audit)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolmentJson {
            factor_id: e.factor,
            otpauth_uri: e.otpauth_uri.to_string(),
            qr_svg: e.qr_svg,
            expires_at: e.expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Code {
    code: Secret,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    factor: FactorJson,
    /// The first factor's recovery codes, shown only now; `null` when the caller has some.
    recovery_codes: Option<Vec<String>>,
}

impl Confirmed {
    pub(crate) fn new<C: std::ops::Deref<Target = String>>(
        factor: FactorView,
        codes: Option<Vec<C>>,
    ) -> Confirmed {
        Confirmed {
            factor: factor.into(),
            recovery_codes: codes.map(|codes| codes.iter().map(|c| c.to_string()).collect()),
        }
    }
}

/// A factor id from the path; anything but a UUID is an unknown factor.
fn factor_id(id: &str) -> Result<FactorId> {
    id.parse()
        .map_err(|_| Problem::from(CoreError::NotFound("factor")))
}

/// `POST /account/v1/factors/totp/{id}/confirm`
pub async fn confirm_totp(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Code>,
) -> Result<Json<Confirmed>> {
    let id = factor_id(&id)?;
    let c = engine
        .confirm_totp_enrolment(&p, id, body.code.expose(), &origin.audit)
        .await?;
    Ok(Json(Confirmed::new(c.factor, c.recovery_codes)))
}

/// `DELETE /account/v1/factors/{id}` (recent authentication needed)
pub async fn remove(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = factor_id(&id)?;
    engine.remove_factor(&p, id, &origin.audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// `POST /account/v1/recovery-codes`: new codes; the old ones stop working.
pub async fn regenerate_codes(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
) -> Result<Json<RecoveryCodes>> {
    let codes = engine.regenerate_recovery_codes(&p, &origin.audit).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.to_string()).collect(),
    }))
}

/// Exactly one of the fields: what the caller proves.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Proof {
    #[serde(default)]
    password: Option<Secret>,
    #[serde(default)]
    totp_code: Option<Secret>,
    #[serde(default)]
    recovery_code: Option<Secret>,
    #[serde(default)]
    passkey: Option<crate::passkeys::Answer>,
}

impl Proof {
    fn factor(&self) -> Result<SecondFactorProof<'_>> {
        match (&self.totp_code, &self.recovery_code, &self.passkey) {
            (Some(c), None, None) => Ok(SecondFactorProof::Totp(c.expose())),
            (None, Some(c), None) => Ok(SecondFactorProof::RecoveryCode(c.expose())),
            (None, None, Some(a)) => Ok(crate::passkeys::proof(a)),
            _ => Err(invalid(
                "give exactly one of totpCode, recoveryCode and passkey",
            )),
        }
    }
}

fn invalid(m: &str) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_request", m)
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reauthenticated {
    /// Until when factor changes are allowed on this session.
    valid_until: Timestamp,
}

/// `POST /account/v1/reauthenticate`: a password or second factor, checked through the login
/// throttle, recorded on the caller's session for the recent-authentication rule.
pub async fn reauthenticate(
    State(engine): State<Arc<Engine>>,
    Caller(p): Caller,
    origin: Origin,
    JsonBody(body): JsonBody<Proof>,
) -> Result<Json<Reauthenticated>> {
    engine.check_ip_rate(origin.ip)?;
    let proof = match &body.password {
        Some(pw)
            if body.totp_code.is_none()
                && body.recovery_code.is_none()
                && body.passkey.is_none() =>
        {
            ReauthProof::Password(pw.expose())
        }
        Some(_) => {
            return Err(invalid(
                "give exactly one of password, totpCode, recoveryCode and passkey",
            ));
        }
        None => ReauthProof::Factor(body.factor()?),
    };
    let valid_until = engine
        .reauthenticate(&p, proof, &origin.audit)
        .await
        .map_err(|e| match e {
            // The caller is signed in; only the password can be wrong.
            CoreError::InvalidCredentials => {
                Problem::from(e).with_detail("the password is not correct")
            }
            other => other.into(),
        })?;
    Ok(Json(Reauthenticated { valid_until }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignIn {
    email: String,
    password: Secret,
}

/// The answer of a sign-in step.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum SignInJson {
    /// The session started: its first token.
    #[serde(rename = "signed_in", rename_all = "camelCase")]
    SignedIn {
        token: String,
        expires_at: Timestamp,
        session_id: String,
        auth_methods: Vec<String>,
    },
    /// Finish with `POST /account/v1/sign-in/second-factor`.
    #[serde(rename = "second_factor", rename_all = "camelCase")]
    SecondFactor {
        challenge: String,
        expires_at: Timestamp,
        methods: Vec<FactorKind>,
        recovery_codes: bool,
    },
    /// The policy requires a factor the account has none of: enrol through web sign-in.
    #[serde(rename = "enrolment_required", rename_all = "camelCase")]
    EnrolmentRequired {
        expires_at: Timestamp,
        methods: Vec<FactorKind>,
    },
}

impl From<LoginGrant> for SignInJson {
    fn from(g: LoginGrant) -> Self {
        SignInJson::SignedIn {
            token: g.token.token,
            expires_at: g.token.expires_at,
            session_id: g.session.id.0,
            auth_methods: g.session.amr,
        }
    }
}

pub(crate) fn challenge_json(c: MfaChallenge, enrol: bool) -> SignInJson {
    if enrol {
        SignInJson::EnrolmentRequired {
            expires_at: c.expires_at,
            methods: c.kinds,
        }
    } else {
        SignInJson::SecondFactor {
            challenge: c.handle,
            expires_at: c.expires_at,
            methods: c.kinds,
            recovery_codes: c.recovery_codes,
        }
    }
}

/// `POST /account/v1/sign-in`: email and password (the login throttle, lockout and one answer
/// for every credential failure), then a session, or a challenge for the second factor.
pub async fn sign_in(
    State(engine): State<Arc<Engine>>,
    origin: Origin,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Json<SignInJson>> {
    engine.check_ip_rate(origin.ip)?;
    let step = engine
        .sign_in_password(
            &body.email,
            body.password.expose(),
            OrgChoice::Default,
            None,
            &origin.audit,
        )
        .await?;
    Ok(Json(match step {
        SignInStep::SignedIn(g) => (*g).into(),
        SignInStep::SecondFactor(c) => challenge_json(c, false),
        SignInStep::Enrolment(c) => challenge_json(c, true),
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecondStep {
    challenge: Secret,
    #[serde(default)]
    totp_code: Option<Secret>,
    #[serde(default)]
    recovery_code: Option<Secret>,
    #[serde(default)]
    passkey: Option<crate::passkeys::Answer>,
}

/// `POST /account/v1/sign-in/second-factor`: the challenge and a TOTP or recovery code. A wrong
/// code counts toward the account's lockout and leaves the challenge for another try.
pub async fn second_factor(
    State(engine): State<Arc<Engine>>,
    origin: Origin,
    JsonBody(body): JsonBody<SecondStep>,
) -> Result<Json<SignInJson>> {
    engine.check_ip_rate(origin.ip)?;
    let proof = Proof {
        password: None,
        totp_code: body.totp_code,
        recovery_code: body.recovery_code,
        passkey: body.passkey,
    };
    let proof = proof.factor()?;
    let grant = engine
        .complete_second_factor(body.challenge.expose(), proof, &origin.audit)
        .await?;
    Ok(Json(grant.into()))
}
