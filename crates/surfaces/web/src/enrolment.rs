//! Enrolment inside a browser sign-in (docs/design/mfa.md, "Browser sign-in"): a policy
//! requires a factor the user lacks, so the sign-in stops at a TOTP setup (the QR code as inline
//! SVG, the key, a code to confirm), or, where the policy allows only passkeys, at a passkey's
//! creation (`passkeys.rs`); the recovery codes follow once and the sign-in ends as usual.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::error::MfaRefusal;
use portcullis_core::model::FactorId;
use portcullis_core::{CoreError, totp};
use portcullis_edge::Origin;
use serde::Deserialize;

use crate::page::{self, Continues, esc};
use crate::passkeys;
use crate::second_factor::{
    BAD_CODE, ChallengeForm, ENROL_PATH, Field, MAX_CODE, accepted, codes_page, failure,
    field_error, form_page,
};
use crate::{Ctx, Web, core_failure, retry_after};

/// An `otpauth://` URI of ours is about 150 bytes.
const MAX_URI: usize = 1024;

/// Enrolment inside the sign-in: the QR code (inline SVG, no image source needed), the secret
/// for manual entry, and a code to confirm.
pub(crate) fn enrol_page(
    web: &Web,
    status: StatusCode,
    email: &str,
    factor: FactorId,
    otpauth_uri: &str,
    continues: Continues<'_>,
    error: Option<(Field, &str)>,
) -> Response {
    // Our own renderer's markup; the XML declaration cannot stand inside HTML.
    let qr = totp::qr_svg(otpauth_uri).unwrap_or_default();
    let qr = qr
        .find("<svg")
        .map(|i| &qr[i..])
        .unwrap_or_default()
        .to_owned();
    let secret = otpauth_uri
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("secret=")))
        .unwrap_or_default();
    form_page(
        web,
        status,
        "Set up two-step verification",
        continues,
        |hidden| {
            let code_error = field_error(error, Field::Code, "code");
            format!(
                "<p>Your organisation requires a second step for <strong id=\"user\">{email}</strong>. \
             Scan this code with an authenticator app, then enter the code it shows.</p>\n\
             <figure id=\"qr\" role=\"img\" aria-label=\"QR code of the authenticator setup\">{qr}</figure>\n\
             <p>Or enter this key by hand: <code id=\"secret\">{secret}</code></p>\n\
             <details><summary>Setup link</summary><p><code id=\"otpauth-uri\">{uri}</code></p></details>\n\
             <form method=\"post\" action=\"{ENROL_PATH}\" id=\"enrol-form\">\n{hidden}\
             <input type=\"hidden\" name=\"factor\" value=\"{factor}\">\n\
             <input type=\"hidden\" name=\"otpauth_uri\" value=\"{uri}\">\n\
             <p><label for=\"code\">Code from your authenticator app</label>\n\
             <input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" \
             pattern=\"[0-9]*\" maxlength=\"8\" autocomplete=\"one-time-code\" required></p>\n\
             {code_error}<p><button id=\"submit\" type=\"submit\">Confirm</button></p>\n</form>",
                email = esc(email),
                secret = esc(secret),
                uri = esc(otpauth_uri),
                factor = factor.0,
            )
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    r: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    factor: String,
    #[serde(default)]
    otpauth_uri: String,
    /// A passkey enrolment's answer (`passkeys.rs`), instead of a code.
    #[serde(default)]
    pub(crate) ceremony: Option<String>,
    #[serde(default)]
    pub(crate) credential: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

pub(crate) async fn enrol_submit(
    State(web): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Result<Form<EnrolForm>, FormRejection>,
) -> Response {
    let (f, handle, continues) = match accepted(&web, &origin, &headers, &form).await {
        Ok(accepted) => accepted,
        Err(r) => return *r,
    };
    if f.ceremony.is_some() {
        return passkeys::enrol_answer(&web, f, &handle, continues, &origin.audit).await;
    }
    let Ok(factor) = f.factor.parse().map(FactorId) else {
        return page::failure(
            &web.engine.default_brand(),
            StatusCode::BAD_REQUEST,
            "The form is incomplete.",
        );
    };
    let code = f.code.trim();
    let result = if code.len() > MAX_CODE {
        Err(CoreError::Mfa(MfaRefusal::InvalidCode))
    } else {
        web.engine
            .complete_challenge_enrolment(&handle, factor, code, &origin.audit)
            .await
    };
    match result {
        Ok((grant, confirmed)) => {
            let codes: Vec<String> = confirmed
                .recovery_codes
                .iter()
                .flatten()
                .map(|c| c.as_str().to_owned())
                .collect();
            codes_page(&web, &grant, &codes, continues)
        }
        Err(e @ (CoreError::Mfa(MfaRefusal::InvalidCode) | CoreError::RateLimited { .. })) => {
            let ch = match web.engine.mfa_challenge(&handle).await {
                Ok(ch) => ch,
                Err(e) => return failure(&web, e, continues).await,
            };
            // The page shows the same setup again: the URI is only displayed, the secret that
            // counts is the pending factor's, sealed in the store.
            let uri = Some(f.otpauth_uri.as_str())
                .filter(|u| u.len() <= MAX_URI && u.starts_with("otpauth://totp/"))
                .unwrap_or_default();
            let (status, msg) = match &e {
                CoreError::RateLimited { .. } => core_failure(&e),
                _ => (StatusCode::UNAUTHORIZED, BAD_CODE),
            };
            let mut r = enrol_page(
                &web,
                status,
                &ch.email,
                factor,
                uri,
                continues,
                Some((Field::Code, msg)),
            );
            retry_after(&mut r, &e);
            r
        }
        Err(e) => failure(&web, e, continues).await,
    }
}

impl ChallengeForm for EnrolForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
    fn r(&self) -> Option<&str> {
        self.r.as_deref()
    }
}
