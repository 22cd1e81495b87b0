//! Passkeys on `/account/security` (docs/design/mfa.md, "Passkeys in the browser"): "Add a
//! passkey" with a name among the enrolment options, the page that creates it, and the passkey
//! proof of the re-authentication step. The ceremonies are the core's
//! (`start_passkey_registration`, `finish_passkey_registration`, `start_passkey_reauth`); the
//! options go into the page (`data-options`) and `/assets/webauthn.js` posts the browser's
//! answer back through the page's form, with its CSRF token. Only the pages with a passkey form
//! load the script (`AccountPages::passkey_page`).
//!
//! * `POST /account/security/passkey` (`name`): the creation page, or first the
//!   re-authentication step when the session is not recent (`then=passkey`, the name kept).
//! * `POST /account/security/passkey/confirm` (`ceremony`, `credential`, `name`): registers it;
//!   the first factor's recovery codes are shown once, else back to the list. A refused, spent
//!   or expired answer shows the creation page again, with a fresh ceremony and the reason next
//!   to the button.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::CoreError;
use portcullis_core::error::MfaRefusal;
use portcullis_core::factors::{PasskeyAnswer, PasskeyCeremony};
use portcullis_edge::Origin;
use portcullis_edge::html::esc;
use portcullis_edge::page_layout::{
    csrf_input, passkey_answer, passkey_answer_fields, passkey_error,
};

use super::security::{self, Then};
use super::{AccountPages, Ctx, Fields, Visitor, see_other};

pub(crate) const ADD_PATH: &str = "/account/security/passkey";
pub(crate) const CONFIRM_PATH: &str = "/account/security/passkey/confirm";
/// The core allows 64 characters; a name far longer is cut before it gets there.
const MAX_NAME: usize = 256;

const REJECTED: &str = "Your passkey was not accepted. Try again.";
const EXPIRED: &str = "The passkey request expired. Try again.";
const MALFORMED: &str = "Your browser's passkey answer was not valid. Try again.";
const ALREADY: &str = "This passkey is already registered.";

/// The posted passkey name (empty: the core's default, "Passkey").
pub(crate) fn name_of(fields: &std::collections::BTreeMap<String, String>) -> String {
    fields
        .get("name")
        .map(|n| n.trim())
        .filter(|n| n.len() <= MAX_NAME)
        .unwrap_or_default()
        .to_owned()
}

/// The enrolment option: a name and "Add a passkey" (which needs the script on the next page).
pub(crate) fn enrolment_option(visitor: &Visitor) -> String {
    format!(
        "<li><form method=\"post\" action=\"{ADD_PATH}\" id=\"add-passkey-form\">{csrf}\
         <div class=\"field\"><label for=\"passkey-name\">Passkey name</label>\
         <input id=\"passkey-name\" name=\"name\" type=\"text\" maxlength=\"64\" \
         autocomplete=\"off\" aria-describedby=\"passkey-name-hint\">\
         <p class=\"hint\" id=\"passkey-name-hint\">For example the device it is on. \
         Your browser or security key will ask you to confirm.</p></div>\
         <button id=\"add-passkey\" type=\"submit\">Add a passkey</button></form></li>",
        csrf = csrf_input(&visitor.csrf),
    )
}

/// The page that creates the passkey: the ceremony's options in the form, "Create passkey" runs
/// it (the script), and the answer posts to [`CONFIRM_PATH`].
pub(crate) fn setup_page(
    pages: &AccountPages,
    visitor: &Visitor,
    status: StatusCode,
    ceremony: &PasskeyCeremony,
    name: &str,
    error: Option<&str>,
) -> Response {
    let body = format!(
        "<section class=\"card\" aria-labelledby=\"passkey-h\">\n\
         <h2 id=\"passkey-h\">Create your passkey</h2>\n\
         <p>Your browser will ask you to confirm with your fingerprint, face, screen lock or \
         security key PIN. The passkey is named <strong id=\"passkey-label\">{label}</strong>.</p>\n\
         <noscript><p class=\"alert error\">Creating a passkey needs JavaScript in this browser.</p></noscript>\n\
         <form method=\"post\" action=\"{CONFIRM_PATH}\" id=\"passkey-form\" data-passkey=\"create\" \
         data-options=\"{options}\" data-error=\"passkey-error\">{csrf}{fields}\
         <input type=\"hidden\" name=\"name\" value=\"{name}\">\n\
         <div class=\"actions\"><button id=\"create-passkey\" type=\"submit\">Create passkey</button>\
         <a href=\"{back}\">Cancel</a></div>\n{error}</form></section>",
        label = esc(if name.is_empty() { "Passkey" } else { name }),
        options = esc(&ceremony.options.to_string()),
        csrf = csrf_input(&visitor.csrf),
        fields = passkey_answer_fields(&ceremony.ceremony),
        name = esc(name),
        back = security::PATH,
        error = passkey_error(error),
    );
    pages.passkey_page(status, visitor, security::PATH, "Add a passkey", &body)
}

/// Starts a registration and shows its page (the core checks the recent authentication).
pub(crate) async fn start(
    pages: &AccountPages,
    visitor: &Visitor,
    name: &str,
    status: StatusCode,
    error: Option<&str>,
    origin: &Origin,
) -> Result<Response, CoreError> {
    let ceremony = pages
        .engine()
        .start_passkey_registration(&visitor.principal, &origin.audit)
        .await?;
    Ok(setup_page(pages, visitor, status, &ceremony, name, error))
}

/// `POST /account/security/passkey`: the creation page, or the re-authentication it needs.
pub(crate) async fn add(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    match security::checked(&pages, &headers, form).await {
        Ok((visitor, fields)) => {
            let then = Then::Passkey(name_of(&fields));
            security::perform(&pages, &visitor, then, &origin).await
        }
        Err(r) => r,
    }
}

/// `POST /account/security/passkey/confirm`: the browser's answer.
pub(crate) async fn confirm(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let (visitor, fields) = match security::checked(&pages, &headers, form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = name_of(&fields);
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    let ceremony = field("ceremony");
    let result = match passkey_answer(ceremony, field("credential")) {
        None => Err(CoreError::InvalidArgument("not a passkey answer".into())),
        Some(credential) => {
            let answer = PasskeyAnswer {
                ceremony,
                credential: &credential,
            };
            let name = Some(name.as_str()).filter(|n| !n.is_empty());
            pages
                .engine()
                .finish_passkey_registration(&visitor.principal, answer, name, &origin.audit)
                .await
        }
    };
    let (status, msg) = match result {
        Ok(confirmed) => {
            return match confirmed.recovery_codes {
                Some(codes) => {
                    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                    security::codes_page(&pages, &visitor, &codes, false)
                }
                None => see_other(&format!("{}?done=passkey-added", security::PATH)),
            };
        }
        Err(CoreError::Mfa(MfaRefusal::InvalidCode)) => (StatusCode::UNAUTHORIZED, REJECTED),
        Err(CoreError::InvalidToken(_) | CoreError::TokenExpired) => {
            (StatusCode::BAD_REQUEST, EXPIRED)
        }
        Err(CoreError::InvalidArgument(m)) if m.contains("name") => {
            let msg = super::sentence(&m);
            return security::refused_with(&pages, &visitor, StatusCode::BAD_REQUEST, &msg).await;
        }
        Err(CoreError::InvalidArgument(_)) => (StatusCode::BAD_REQUEST, MALFORMED),
        Err(CoreError::Conflict(_)) => {
            return security::refused_with(&pages, &visitor, StatusCode::CONFLICT, ALREADY).await;
        }
        Err(e) => return security::refused(&pages, &visitor, Then::Passkey(name), e).await,
    };
    // Another try: a fresh ceremony, the reason next to the button.
    match start(&pages, &visitor, &name, status, Some(msg), &origin).await {
        Ok(r) => r,
        Err(e) => security::refused(&pages, &visitor, Then::Passkey(name), e).await,
    }
}

/// The re-authentication step's passkey form, when the user has a usable passkey: a ceremony
/// for this session, its options in the page; the answer posts with what was asked (`then`).
pub(crate) async fn reauth_form(
    pages: &AccountPages,
    visitor: &Visitor,
    then_fields: &str,
    error: Option<&str>,
) -> Option<String> {
    let ceremony = match pages
        .engine()
        .start_passkey_reauth(&visitor.principal)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no passkey ceremony for the re-authentication");
            return None;
        }
    };
    Some(format!(
        "<form method=\"post\" action=\"{action}\" id=\"passkey-form\" data-passkey=\"get\" \
         data-options=\"{options}\" data-error=\"passkey-error\">{csrf}{then_fields}{fields}\
         <noscript><p class=\"muted\">Using a passkey needs JavaScript in this browser.</p></noscript>\n\
         <div class=\"actions\" data-passkey-reveal hidden><button id=\"passkey-submit\" \
         type=\"submit\">Use a passkey</button></div>\n{error}</form>\n",
        action = super::reauth::REAUTH_PATH,
        options = esc(&ceremony.options.to_string()),
        csrf = csrf_input(&visitor.csrf),
        fields = passkey_answer_fields(&ceremony.ceremony),
        error = passkey_error(error),
    ))
}

/// The re-authentication's refusal of a passkey answer, as the message next to the button.
pub(crate) fn reauth_refusal(e: &CoreError) -> Option<(StatusCode, &'static str)> {
    match e {
        CoreError::Mfa(MfaRefusal::InvalidCode) | CoreError::InvalidCredentials => {
            Some((StatusCode::UNAUTHORIZED, REJECTED))
        }
        CoreError::InvalidToken(_) | CoreError::TokenExpired => {
            Some((StatusCode::BAD_REQUEST, EXPIRED))
        }
        CoreError::InvalidArgument(_) => Some((StatusCode::BAD_REQUEST, MALFORMED)),
        _ => None,
    }
}
