//! Passkeys on the sign-in pages (docs/design/mfa.md, "Passkeys in the browser"): "Sign in with
//! a passkey" on `/login` (passwordless, a discoverable credential) and "Use a passkey" in the
//! second step. The ceremonies are the core's; this module adapts them to the pages and to the
//! same-origin script `/assets/webauthn.js`:
//!
//! * `POST /login/passkey` (the script's `fetch`, form-encoded `csrf`): the passwordless options,
//!   as JSON `{ceremony, publicKey}`, or `{message}` with the refusal's status.
//! * `POST /login/passkey/finish` (a normal form: `csrf`, `r`, `ceremony`, `credential`): the
//!   sign-in, ending like a password's (landing page, the application, or the second step).
//! * The second step's passkey form posts `ceremony` + `credential` to `/login/second-factor`;
//!   its options are in the page (started for the stopped sign-in when the page is made).
//! * A sign-in whose policy requires a factor and allows only passkeys enrols one: the page
//!   carries the registration's options and posts `ceremony`, `credential`, `name` to
//!   `/login/enrol`; the recovery codes follow, as after an app's enrolment.
//!
//! Every post carries the double-submit CSRF token and passes the `Origin` check, like the
//! password form; a refusal is shown next to the passkey button (`#passkey-error`).

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use portcullis_core::CoreError;
use portcullis_core::audit::AuditContext;
use portcullis_core::engine::OrgChoice;
use portcullis_core::factors::{MfaChallenge, PasskeyAnswer};
use portcullis_core::model::FactorKind;
use portcullis_edge::Origin;
use serde::Deserialize;
use serde_json::json;

use portcullis_edge::page_layout::{passkey_answer, passkey_answer_fields, passkey_error};

use crate::enrolment::EnrolForm;
use crate::page::{Continues, FormError, esc, passkey_html};
use crate::second_factor::{ENROL_PATH, codes_page, failure, new_form};
use crate::{Ctx, Web, continues_of, core_failure, retry_after};

/// The passwordless options the script fetches.
pub(crate) const OPTIONS_PATH: &str = "/login/passkey";
/// The passwordless answer's form target.
pub(crate) const FINISH_PATH: &str = "/login/passkey/finish";
pub(crate) const REJECTED: &str =
    "That passkey was not accepted. Try again, or use another way to sign in.";
pub(crate) const EXPIRED: &str = "The passkey request expired. Try again.";
pub(crate) const MALFORMED: &str = "Your browser's passkey answer was not valid. Try again.";

/// The passwordless part of the sign-in page (shown by the script where the browser can use
/// passkeys; without script it stays hidden and the password form is the page). `hidden` holds
/// the CSRF and pending-request inputs of the page.
pub(crate) fn sign_in_section(hidden: &str, error: Option<&str>) -> String {
    format!(
        "<div id=\"passkey-sign-in\" data-passkey-reveal{shown}>\n\
         <p class=\"or\"><span>or</span></p>\n\
         <form method=\"post\" action=\"{FINISH_PATH}\" id=\"passkey-form\" data-passkey=\"get\" \
         data-options-url=\"{OPTIONS_PATH}\" data-error=\"passkey-error\">\n{hidden}{fields}\
         <div class=\"actions stack\"><button id=\"passkey-submit\" class=\"secondary\" \
         type=\"submit\">Sign in with a passkey</button></div>\n{error}</form></div>\n",
        shown = if error.is_some() { "" } else { " hidden" },
        fields = passkey_answer_fields(""),
        error = passkey_error(error),
    )
}

/// The second step's passkey form, when the user has a usable passkey and this server can host
/// them: a ceremony for the stopped sign-in, its options in the page. `None` otherwise (or when
/// the ceremony cannot start; the other ways stay).
pub(crate) async fn second_step_form(
    web: &Web,
    ch: &MfaChallenge,
    hidden: &str,
    error: Option<&str>,
) -> Option<String> {
    if !ch.kinds.contains(&FactorKind::Webauthn) || !web.engine.passkeys_available() {
        return None;
    }
    let ceremony = match web.engine.start_second_factor_passkey(&ch.handle).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no passkey ceremony for the second step");
            return None;
        }
    };
    Some(format!(
        "<form method=\"post\" action=\"{action}\" id=\"passkey-form\" data-passkey=\"get\" \
         data-options=\"{options}\" data-error=\"passkey-error\">\n{hidden}{fields}\
         <noscript><p class=\"muted\">Using a passkey needs JavaScript in this browser.</p></noscript>\n\
         <div class=\"actions stack\" data-passkey-reveal hidden><button id=\"passkey-submit\" \
         type=\"submit\">Use a passkey</button></div>\n{error}</form>\n",
        action = crate::second_factor::SECOND_FACTOR_PATH,
        options = esc(&ceremony.options.to_string()),
        fields = passkey_answer_fields(&ceremony.ceremony),
        error = passkey_error(error),
    ))
}

/// A passkey refusal as the message next to the button, with its status; `None` for failures
/// that are not about the passkey answer (shown as the page shows them).
pub(crate) fn refusal(e: &CoreError) -> Option<(StatusCode, &'static str)> {
    match e {
        CoreError::InvalidCredentials
        | CoreError::Unauthenticated
        | CoreError::Mfa(portcullis_core::error::MfaRefusal::InvalidCode) => {
            Some((StatusCode::UNAUTHORIZED, REJECTED))
        }
        CoreError::InvalidToken(_) | CoreError::TokenExpired => {
            Some((StatusCode::BAD_REQUEST, EXPIRED))
        }
        CoreError::InvalidArgument(_) => Some((StatusCode::BAD_REQUEST, MALFORMED)),
        _ => None,
    }
}

#[derive(Deserialize)]
pub(crate) struct OptionsForm {
    #[serde(default)]
    csrf: String,
}

/// A refusal for the script: `{message}` (shown next to the button) with the status.
fn json_refusal(status: StatusCode, message: &str) -> Response {
    let mut r = (status, Json(json!({ "message": message }))).into_response();
    crate::page::secure_headers(r.headers_mut());
    r
}

/// `POST /login/passkey`: the passwordless options, for the page's own script.
pub(crate) async fn sign_in_options(
    State(web): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Result<Form<OptionsForm>, FormRejection>,
) -> Response {
    if !web.engine.passkeys_available() {
        return json_refusal(
            StatusCode::NOT_FOUND,
            "Passkeys are not available on this server.",
        );
    }
    let Ok(Form(f)) = form else {
        return json_refusal(StatusCode::BAD_REQUEST, "The request is not valid.");
    };
    if !crate::second_factor::form_is_ours(&web, &headers, &f.csrf) {
        return json_refusal(
            StatusCode::FORBIDDEN,
            "The form expired. Reload the page and try again.",
        );
    }
    let started = match web.engine.check_ip_rate(origin.ip) {
        Ok(()) => web.engine.start_passkey_sign_in().await,
        Err(e) => Err(e),
    };
    match started {
        Ok(c) => {
            let body = json!({"ceremony": c.ceremony, "publicKey": c.options});
            let mut r = (StatusCode::OK, Json(body)).into_response();
            crate::page::secure_headers(r.headers_mut());
            r
        }
        Err(e) => {
            let (status, msg) = core_failure(&e);
            let mut r = json_refusal(status, msg);
            retry_after(&mut r, &e);
            r
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct FinishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    r: Option<String>,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// `POST /login/passkey/finish`: the passwordless sign-in; with user verification two factors
/// (the core decides), ending like a password sign-in. Refusals: the sign-in page with the
/// message next to the passkey button.
pub(crate) async fn sign_in_finish(
    State(web): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Result<Form<FinishForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        let msg = FormError::Form("The request is not valid.");
        return web
            .form(StatusCode::BAD_REQUEST, "", Continues::Nothing, Some(msg))
            .await;
    };
    let continues = continues_of(f.r.as_deref());
    if !crate::second_factor::form_is_ours(&web, &headers, &f.csrf) {
        let msg = FormError::Form("The form expired. Please sign in again.");
        return web
            .form(StatusCode::FORBIDDEN, "", continues, Some(msg))
            .await;
    }
    if let Err(e) = web.engine.check_ip_rate(origin.ip) {
        let (status, msg) = core_failure(&e);
        let mut r = web
            .form(status, "", continues, Some(FormError::Form(msg)))
            .await;
        retry_after(&mut r, &e);
        return r;
    }
    let Some(credential) = passkey_answer(&f.ceremony, &f.credential) else {
        let msg = FormError::Passkey(MALFORMED);
        return web
            .form(StatusCode::BAD_REQUEST, "", continues, Some(msg))
            .await;
    };
    let choice = match continues {
        Continues::Authorization(_) => OrgChoice::DefaultOrNone,
        _ => OrgChoice::Default,
    };
    let answer = PasskeyAnswer {
        ceremony: &f.ceremony,
        credential: &credential,
    };
    match web
        .engine
        .finish_passkey_sign_in(answer, choice, &origin.audit)
        .await
    {
        Ok(step) => {
            crate::second_factor::after_first_factor(&web, step, continues, &origin.audit).await
        }
        Err(e) => {
            let (status, error) = match refusal(&e) {
                Some((status, msg)) => (status, FormError::Passkey(msg)),
                None => {
                    let (status, msg) = core_failure(&e);
                    (status, FormError::Form(msg))
                }
            };
            let mut r = web.form(status, "", continues, Some(error)).await;
            retry_after(&mut r, &e);
            r
        }
    }
}

/// The passkey enrolment a sign-in needs (policy `required` with passkeys only): the
/// registration's options in the page, a name, "Create passkey" (the script).
pub(crate) async fn enrol_page(
    web: &Web,
    status: StatusCode,
    ch: &MfaChallenge,
    continues: Continues<'_>,
    (error, ctx): (Option<&str>, &AuditContext),
) -> Response {
    let started = if web.engine.passkeys_available() {
        web.engine
            .start_challenge_passkey_enrolment(&ch.handle, ctx)
            .await
    } else {
        Err(CoreError::InvalidArgument("passkeys unavailable".into()))
    };
    let ceremony = match started {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no passkey enrolment for a sign-in that needs one");
            let brand = web.engine.default_brand();
            return crate::page::failure(
                &brand,
                StatusCode::SERVICE_UNAVAILABLE,
                "Your organisation requires a passkey, which cannot be set up at this address.",
            );
        }
    };
    let (csrf, hidden) = new_form(continues);
    let body = format!(
        "<p>Your organisation requires a passkey for <strong id=\"user\">{email}</strong>. \
         Your browser will ask you to confirm with your fingerprint, face, screen lock or \
         security key PIN.</p>\n\
         <noscript><p class=\"alert error\">Creating a passkey needs JavaScript in this browser.</p></noscript>\n\
         <form method=\"post\" action=\"{ENROL_PATH}\" id=\"passkey-form\" data-passkey=\"create\" \
         data-options=\"{options}\" data-error=\"passkey-error\">\n{hidden}{fields}\
         <div class=\"field\"><label for=\"passkey-name\">Passkey name</label>\
         <input id=\"passkey-name\" name=\"name\" type=\"text\" maxlength=\"64\" autocomplete=\"off\"></div>\n\
         <div class=\"actions stack\"><button id=\"create-passkey\" type=\"submit\">Create passkey</button></div>\n\
         {error}</form>\n<div class=\"actions\"><a href=\"/login\">Start again</a></div>",
        email = esc(&ch.email),
        options = esc(&ceremony.options.to_string()),
        fields = passkey_answer_fields(&ceremony.ceremony),
        error = passkey_error(error),
    );
    let brand = web.engine.default_brand();
    let mut r = passkey_html(&brand, status, "Set up a passkey", &body);
    web.protect_form(&mut r, &csrf, continues);
    r
}

/// The answer to [`enrol_page`]: registered and signed in (the recovery codes, once), or the
/// page again with a fresh ceremony and the reason next to the button.
pub(crate) async fn enrol_answer(
    web: &Web,
    f: &EnrolForm,
    handle: &str,
    continues: Continues<'_>,
    ctx: &AuditContext,
) -> Response {
    let ceremony = f.ceremony.as_deref().unwrap_or_default();
    let credential = passkey_answer(ceremony, f.credential.as_deref().unwrap_or_default());
    let name = f.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let result = match &credential {
        Some(credential) => {
            let answer = PasskeyAnswer {
                ceremony,
                credential,
            };
            web.engine
                .complete_challenge_passkey_enrolment(handle, answer, name, ctx)
                .await
        }
        None => Err(CoreError::InvalidArgument("not a passkey answer".into())),
    };
    match result {
        Ok((grant, confirmed)) => {
            let codes: Vec<String> = confirmed
                .recovery_codes
                .iter()
                .flatten()
                .map(|c| c.as_str().to_owned())
                .collect();
            codes_page(web, &grant, &codes, continues)
        }
        Err(e) => {
            let Some((status, msg)) = refusal(&e) else {
                return failure(web, e, continues).await;
            };
            // The sign-in waits while its challenge lives; a fresh ceremony for another try.
            match web.engine.mfa_challenge(handle).await {
                Ok(ch) => enrol_page(web, status, &ch, continues, (Some(msg), ctx)).await,
                Err(e) => failure(web, e, continues).await,
            }
        }
    }
}
