//! `/account/security`: the visitor's sign-in factors (docs/design/mfa.md, "Account pages"):
//! the list, the org policy, TOTP enrolment (QR code as inline SVG, the key for manual entry,
//! a code to confirm), new recovery codes (shown once), removing a factor (after a confirm
//! form), and the recent-authentication step the core asks for before any of those changes.
//!
//! A change the core refuses with `RecentAuthenticationRequired` shows the re-authentication
//! page instead (`reauth.rs`); its form carries what was asked (`then`, and the factor for a
//! removal or the name of a passkey), so a right proof goes straight on with it. Adding a
//! passkey and the passkey proof are `passkeys.rs`.

use axum::extract::{Form, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::error::MfaRefusal;
use portcullis_core::factors::MfaOverview;
use portcullis_core::model::{FactorId, FactorKind, MfaMode};
use portcullis_core::{CoreError, totp};
use portcullis_edge::Origin;
use portcullis_edge::html::esc;
use portcullis_edge::page_layout::{AlertKind, Field, alert, csrf_input};

use super::{
    AccountPages, Checked, Ctx, Fields, Visitor, done_message, refusal, retry_after, see_other,
    when,
};
use super::{passkeys, reauth};

pub(crate) const PATH: &str = "/account/security";
pub(crate) const TOTP_PATH: &str = "/account/security/totp";
pub(crate) const CONFIRM_PATH: &str = "/account/security/totp/confirm";
pub(crate) const CODES_PATH: &str = "/account/security/recovery-codes";
pub(crate) const REMOVE_PATH: &str = "/account/security/remove";
/// Codes are 6 digits, recovery codes 29 characters; anything much longer is refused unread.
pub(super) const MAX_CODE: usize = 64;
/// An `otpauth://` URI of ours is about 150 bytes.
const MAX_URI: usize = 1024;

pub(super) const BAD_CODE: &str = "That code is not valid. Enter the current code from your app.";
pub(super) const BAD_RECOVERY: &str = "That recovery code is not valid or was already used.";
const PASSKEYS_ONLY: &str = "Your organisation allows only passkeys as a second factor, so an \
     authenticator app cannot be added.";

/// What a change asked for, carried through the re-authentication page.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Then {
    Totp,
    Codes,
    Remove(FactorId),
    /// Add a passkey with this name (empty: the default name).
    Passkey(String),
}

impl Then {
    pub(super) fn of(fields: &std::collections::BTreeMap<String, String>) -> Option<Then> {
        match fields.get("then").map(String::as_str) {
            Some("totp") => Some(Then::Totp),
            Some("codes") => Some(Then::Codes),
            Some("remove") => factor_of(fields).map(Then::Remove),
            Some("passkey") => Some(Then::Passkey(passkeys::name_of(fields))),
            _ => None,
        }
    }
    pub(super) fn hidden(&self) -> String {
        match self {
            Then::Totp => "<input type=\"hidden\" name=\"then\" value=\"totp\">\n".into(),
            Then::Codes => "<input type=\"hidden\" name=\"then\" value=\"codes\">\n".into(),
            Then::Remove(id) => format!(
                "<input type=\"hidden\" name=\"then\" value=\"remove\">\n\
                 <input type=\"hidden\" name=\"factor\" value=\"{}\">\n",
                id.0
            ),
            Then::Passkey(name) => format!(
                "<input type=\"hidden\" name=\"then\" value=\"passkey\">\n\
                 <input type=\"hidden\" name=\"name\" value=\"{}\">\n",
                esc(name)
            ),
        }
    }
}

fn factor_of(fields: &std::collections::BTreeMap<String, String>) -> Option<FactorId> {
    fields
        .get("factor")
        .filter(|f| f.len() <= 64)
        .and_then(|f| f.parse().ok())
        .map(FactorId)
}

fn mode_words(o: &MfaOverview) -> &'static str {
    match (o.policy.mode, o.policy.passkeys_only) {
        (MfaMode::Required, true) => "Required: passkeys only",
        (MfaMode::Required, false) => "Required",
        (_, true) => "Optional: passkeys only",
        (MfaMode::Optional, false) => "Optional",
        (MfaMode::Off, false) => "Not used at sign-in",
    }
}

fn kind_words(k: FactorKind) -> &'static str {
    match k {
        FactorKind::Totp => "Authenticator app",
        FactorKind::Webauthn => "Passkey",
    }
}

/// The factors section, the enrolment options and the recovery codes.
fn overview_body(visitor: &Visitor, o: &MfaOverview, passkeys: bool, done: Option<&str>) -> String {
    let csrf = csrf_input(&visitor.csrf);
    let items: String = o
        .factors
        .iter()
        .map(|f| {
            format!(
                "<li id=\"factor-{id}\"><div class=\"item-main\"><strong>{name}</strong>\
                 <span class=\"muted\">{kind} · added {added} · last used {used}</span></div>\
                 <form method=\"post\" action=\"{REMOVE_PATH}\">{csrf}\
                 <input type=\"hidden\" name=\"factor\" value=\"{id}\">\
                 <button class=\"secondary\" type=\"submit\" aria-label=\"Remove {name}\">Remove</button>\
                 </form></li>\n",
                id = f.id.0,
                name = esc(&f.name),
                kind = kind_words(f.kind),
                added = when(&f.created_at),
                used = f.last_used_at.as_ref().map_or("never".into(), when),
            )
        })
        .collect();
    let list = if items.is_empty() {
        "<p class=\"empty\" id=\"no-factors\">You have no second factor yet.</p>".to_owned()
    } else {
        format!("<ul class=\"items\" id=\"factors\">\n{items}</ul>")
    };
    // The ways to add a factor, one list item each.
    let totp = if o.policy.passkeys_only {
        format!(
            "<li id=\"totp-hidden\" class=\"muted\">{}</li>",
            esc(PASSKEYS_ONLY)
        )
    } else {
        format!(
            "<li><form method=\"post\" action=\"{TOTP_PATH}\">{csrf}\
             <button id=\"add-totp\" type=\"submit\">Add an authenticator app</button></form></li>"
        )
    };
    let passkey = if passkeys {
        passkeys::enrolment_option(visitor)
    } else {
        String::new()
    };
    let options =
        format!("<ul class=\"items\" id=\"enrolment-options\">\n{totp}\n{passkey}\n</ul>");
    let codes = if o.factors.is_empty() {
        String::new()
    } else {
        format!(
            "<section class=\"card\" aria-labelledby=\"codes-h\">\n\
             <h2 id=\"codes-h\">Recovery codes</h2>\n\
             <p>You have <strong id=\"codes-left\">{left}</strong> unused recovery codes. New \
             codes replace all the old ones.</p>\n\
             <form method=\"post\" action=\"{CODES_PATH}\">{csrf}\
             <div class=\"actions\"><button id=\"regenerate\" class=\"secondary\" type=\"submit\">\
             Get new recovery codes</button></div></form></section>",
            left = o.recovery_codes_left,
        )
    };
    let done = done
        .map(|m| alert(AlertKind::Ok, "done", m))
        .unwrap_or_default();
    format!(
        "{done}<section class=\"card\" aria-labelledby=\"factors-h\">\n\
         <h2 id=\"factors-h\">Sign-in factors</h2>\n\
         <p class=\"muted\">Organisation policy for a second factor: \
         <strong id=\"policy\">{policy}</strong>.</p>\n{list}\n\
         <h3 id=\"add-h\">Add a factor</h3>\n{options}</section>\n{codes}",
        policy = mode_words(o),
    )
}

/// The page, or the refusal as a page.
pub(super) async fn overview(
    pages: &AccountPages,
    visitor: &Visitor,
    status: StatusCode,
    message: Option<(AlertKind, &str)>,
    done: Option<&str>,
) -> Response {
    let body = match pages.engine().list_factors(&visitor.principal).await {
        Ok(o) => {
            let msg = message
                .map(|(k, m)| alert(k, "error", m))
                .unwrap_or_default();
            let passkeys = pages.engine().passkeys_available();
            format!("{msg}{}", overview_body(visitor, &o, passkeys, done))
        }
        Err(e) => alert(AlertKind::Error, "error", &refusal(&e).1),
    };
    pages.page(status, visitor, PATH, "Security", &body)
}

pub(crate) async fn page(State(pages): Ctx, headers: HeaderMap, uri: http::Uri) -> Response {
    let visitor = match pages.visitor(&headers, PATH).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    overview(
        &pages,
        &visitor,
        StatusCode::OK,
        None,
        done_message(uri.query()),
    )
    .await
}

/// A posted form, checked (CSRF, `Origin`, signed in), with its fields.
pub(super) async fn checked(
    pages: &AccountPages,
    headers: &HeaderMap,
    form: Fields,
) -> Result<(Visitor, std::collections::BTreeMap<String, String>), Response> {
    let mut fields = form.map(|Form(f)| f).unwrap_or_default();
    let csrf = fields.remove("csrf").unwrap_or_default();
    match pages.form_visitor(headers, &csrf, PATH).await {
        Checked::Visitor(v) => Ok((v, fields)),
        Checked::Answer(r) => Err(r),
    }
}

/// A change's failure: the re-authentication page when the core wants a fresh sign-in, a clear
/// message on the overview otherwise.
pub(super) async fn refused(
    pages: &AccountPages,
    visitor: &Visitor,
    then: Then,
    e: CoreError,
) -> Response {
    let (status, msg) = match &e {
        CoreError::Mfa(MfaRefusal::RecentAuthenticationRequired) => {
            return reauth::page(pages, visitor, then, StatusCode::OK, None).await;
        }
        CoreError::Mfa(MfaRefusal::KindNotAllowed) => {
            (StatusCode::FORBIDDEN, PASSKEYS_ONLY.to_owned())
        }
        CoreError::Mfa(MfaRefusal::EnrolmentRequired) => (
            StatusCode::CONFLICT,
            "Your organisation requires a second factor: add another before removing this one."
                .to_owned(),
        ),
        e => refusal(e),
    };
    let mut r = refused_with(pages, visitor, status, &msg).await;
    retry_after(&mut r, &e);
    r
}

/// The overview with a refusal's message above it.
pub(super) async fn refused_with(
    pages: &AccountPages,
    visitor: &Visitor,
    status: StatusCode,
    msg: &str,
) -> Response {
    overview(pages, visitor, status, Some((AlertKind::Error, msg)), None).await
}

/// Does what was asked; the core checks the recent authentication again.
pub(super) async fn perform(
    pages: &AccountPages,
    visitor: &Visitor,
    then: Then,
    origin: &Origin,
) -> Response {
    let engine = pages.engine();
    let p = &visitor.principal;
    match then {
        Then::Totp => match engine.start_totp_enrolment(p, None, &origin.audit).await {
            Ok(en) => enrol_page(
                pages,
                visitor,
                StatusCode::OK,
                en.factor,
                &en.otpauth_uri,
                None,
            ),
            Err(e) => refused(pages, visitor, then, e).await,
        },
        Then::Codes => match engine.regenerate_recovery_codes(p, &origin.audit).await {
            Ok(codes) => {
                let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                codes_page(pages, visitor, &codes, true)
            }
            Err(e) => refused(pages, visitor, then, e).await,
        },
        Then::Remove(id) => match engine.remove_factor(p, id, &origin.audit).await {
            Ok(()) => see_other(&format!("{PATH}?done=factor-removed")),
            Err(e) => refused(pages, visitor, then, e).await,
        },
        Then::Passkey(ref name) => {
            match passkeys::start(pages, visitor, name, StatusCode::OK, None, origin).await {
                Ok(r) => r,
                Err(e) => refused(pages, visitor, then, e).await,
            }
        }
    }
}

pub(crate) async fn add_totp(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    match checked(&pages, &headers, form).await {
        Ok((visitor, _)) => perform(&pages, &visitor, Then::Totp, &origin).await,
        Err(r) => r,
    }
}

pub(crate) async fn regenerate(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    match checked(&pages, &headers, form).await {
        Ok((visitor, _)) => perform(&pages, &visitor, Then::Codes, &origin).await,
        Err(r) => r,
    }
}

/// Without `confirm`, the question; with it, the removal.
pub(crate) async fn remove(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let (visitor, fields) = match checked(&pages, &headers, form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(id) = factor_of(&fields) else {
        let msg = (AlertKind::Error, "Choose a factor to remove.");
        return overview(&pages, &visitor, StatusCode::BAD_REQUEST, Some(msg), None).await;
    };
    if fields.get("confirm").map(String::as_str) == Some("yes") {
        return perform(&pages, &visitor, Then::Remove(id), &origin).await;
    }
    let name = match pages.engine().list_factors(&visitor.principal).await {
        Ok(o) => o.factors.into_iter().find(|f| f.id == id).map(|f| f.name),
        Err(e) => return refused(&pages, &visitor, Then::Remove(id), e).await,
    };
    let Some(name) = name else {
        let msg = (
            AlertKind::Error,
            "That no longer exists; the list below is up to date.",
        );
        return overview(&pages, &visitor, StatusCode::NOT_FOUND, Some(msg), None).await;
    };
    let body = format!(
        "<section class=\"card\" aria-labelledby=\"remove-h\">\n\
         <h2 id=\"remove-h\">Remove {name}?</h2>\n\
         <p>You will no longer be able to sign in with it.</p>\n\
         <form method=\"post\" action=\"{REMOVE_PATH}\">{csrf}\
         <input type=\"hidden\" name=\"factor\" value=\"{id}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <div class=\"actions\"><button id=\"confirm-remove\" class=\"danger\" type=\"submit\">Remove</button>\
         <a href=\"{PATH}\">Cancel</a></div></form></section>",
        name = esc(&name),
        csrf = csrf_input(&visitor.csrf),
        id = id.0,
    );
    pages.page(StatusCode::OK, &visitor, PATH, "Remove a factor", &body)
}

/// The TOTP setup: the QR code (inline SVG: no image source under the CSP), the key and the
/// URI for manual entry, a code to confirm (its error next to the field).
fn enrol_page(
    pages: &AccountPages,
    visitor: &Visitor,
    status: StatusCode,
    factor: FactorId,
    otpauth_uri: &str,
    error: Option<&str>,
) -> Response {
    // Our own renderer's markup; the XML declaration cannot stand inside HTML.
    let qr = totp::qr_svg(otpauth_uri).unwrap_or_default();
    let qr = qr.find("<svg").map(|i| &qr[i..]).unwrap_or_default();
    let secret = otpauth_uri
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("secret=")))
        .unwrap_or_default();
    let mut code = Field::new("code", "Code from your authenticator app", "text");
    code.autocomplete = "one-time-code";
    code.error = error;
    let body = format!(
        "<section class=\"card\" aria-labelledby=\"enrol-h\">\n\
         <h2 id=\"enrol-h\">Scan the code</h2>\n\
         <p>Scan this code with an authenticator app, then enter the code it shows.</p>\n\
         <figure id=\"qr\" role=\"img\" aria-label=\"QR code of the authenticator setup\">{qr}</figure>\n\
         <p>Or enter this key by hand: <code id=\"secret\">{secret}</code></p>\n\
         <details><summary>Setup link</summary><p><code id=\"otpauth-uri\">{uri}</code></p></details>\n\
         <form method=\"post\" action=\"{CONFIRM_PATH}\" id=\"enrol-form\">{csrf}\
         <input type=\"hidden\" name=\"factor\" value=\"{factor}\">\n\
         <input type=\"hidden\" name=\"otpauth_uri\" value=\"{uri}\">\n{field}\
         <div class=\"actions\"><button id=\"confirm\" type=\"submit\">Confirm</button>\
         <a href=\"{PATH}\">Cancel</a></div></form></section>",
        secret = esc(secret),
        uri = esc(otpauth_uri),
        csrf = csrf_input(&visitor.csrf),
        factor = factor.0,
        field = code.html(),
    );
    pages.page(status, visitor, PATH, "Add an authenticator app", &body)
}

pub(crate) async fn confirm_totp(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let (visitor, fields) = match checked(&pages, &headers, form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(factor) = factor_of(&fields) else {
        let msg = (AlertKind::Error, "The setup expired. Start again.");
        return overview(&pages, &visitor, StatusCode::BAD_REQUEST, Some(msg), None).await;
    };
    let code = fields.get("code").map(|c| c.trim()).unwrap_or_default();
    let result = if code.len() > MAX_CODE {
        Err(CoreError::Mfa(MfaRefusal::InvalidCode))
    } else {
        pages
            .engine()
            .confirm_totp_enrolment(&visitor.principal, factor, code, &origin.audit)
            .await
    };
    match result {
        Ok(confirmed) => match confirmed.recovery_codes {
            Some(codes) => {
                let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                codes_page(&pages, &visitor, &codes, false)
            }
            None => see_other(&format!("{PATH}?done=factor-added")),
        },
        Err(e @ (CoreError::Mfa(MfaRefusal::InvalidCode) | CoreError::RateLimited { .. })) => {
            // The same setup again: the URI is only displayed, the secret that counts is the
            // pending factor's, sealed in the store.
            let uri = fields
                .get("otpauth_uri")
                .map(String::as_str)
                .filter(|u| u.len() <= MAX_URI && u.starts_with("otpauth://totp/"))
                .unwrap_or_default();
            let (status, msg) = match &e {
                CoreError::RateLimited { .. } => refusal(&e),
                _ => (StatusCode::UNAUTHORIZED, BAD_CODE.to_owned()),
            };
            let mut r = enrol_page(&pages, &visitor, status, factor, uri, Some(&msg));
            retry_after(&mut r, &e);
            r
        }
        Err(e) => refused(&pages, &visitor, Then::Totp, e).await,
    }
}

/// New recovery codes, shown only on this answer.
pub(super) fn codes_page(
    pages: &AccountPages,
    visitor: &Visitor,
    codes: &[&str],
    replaced: bool,
) -> Response {
    let items: String = codes
        .iter()
        .map(|c| format!("<li><code>{}</code></li>\n", esc(c)))
        .collect();
    let warning = if replaced {
        alert(
            AlertKind::Error,
            "old-codes-dead",
            "Your previous recovery codes no longer work.",
        )
    } else {
        String::new()
    };
    let body = format!(
        "{warning}<section class=\"card\" aria-labelledby=\"codes-h\">\n\
         <h2 id=\"codes-h\">Save your recovery codes</h2>\n\
         <p>Each code signs you in once if you lose your authenticator. Save them somewhere safe: \
         they are shown only now.</p>\n<ol id=\"recovery-codes\">\n{items}</ol>\n\
         <p><a id=\"continue\" href=\"{PATH}\">Done</a></p></section>"
    );
    pages.page(StatusCode::OK, visitor, PATH, "Recovery codes", &body)
}
