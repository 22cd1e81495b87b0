//! `/account/security`: the visitor's sign-in factors (docs/design/mfa.md, "Account pages"):
//! the list, the org policy, TOTP enrolment (QR code as inline SVG, the key for manual entry,
//! a code to confirm), new recovery codes (shown once), removing a factor (after a confirm
//! form), and the recent-authentication step the core asks for before any of those changes.
//!
//! A change the core refuses with `RecentAuthenticationRequired` shows the re-authentication
//! page instead; its form carries what was asked (`then`, and the factor for a removal), so a
//! right code, passkey (or password, for a user without factors) goes straight on with it.
//! Adding a passkey and the passkey proof are `passkeys.rs`.

use axum::extract::{Form, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::engine::SecondFactorProof;
use portcullis_core::error::MfaRefusal;
use portcullis_core::factors::{MfaOverview, PasskeyAnswer, ReauthProof};
use portcullis_core::model::{FactorId, FactorKind, MfaMode};
use portcullis_core::{CoreError, totp};
use portcullis_edge::Origin;
use portcullis_edge::html::esc;
use portcullis_edge::page_layout::{AlertKind, Field, alert, csrf_input};

use super::passkeys;
use super::{
    AccountPages, Checked, Ctx, Fields, Visitor, done_message, refusal, retry_after, see_other,
    when,
};

pub(crate) const PATH: &str = "/account/security";
pub(crate) const TOTP_PATH: &str = "/account/security/totp";
pub(crate) const CONFIRM_PATH: &str = "/account/security/totp/confirm";
pub(crate) const CODES_PATH: &str = "/account/security/recovery-codes";
pub(crate) const REMOVE_PATH: &str = "/account/security/remove";
pub(crate) const REAUTH_PATH: &str = "/account/security/reauthenticate";
/// Codes are 6 digits, recovery codes 29 characters; anything much longer is refused unread.
const MAX_CODE: usize = 64;
const MAX_PASSWORD: usize = 4096;
/// An `otpauth://` URI of ours is about 150 bytes.
const MAX_URI: usize = 1024;

const BAD_CODE: &str = "That code is not valid. Enter the current code from your app.";
const BAD_RECOVERY: &str = "That recovery code is not valid or was already used.";
const BAD_PASSWORD: &str = "That password is not right.";
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
    fn of(fields: &std::collections::BTreeMap<String, String>) -> Option<Then> {
        match fields.get("then").map(String::as_str) {
            Some("totp") => Some(Then::Totp),
            Some("codes") => Some(Then::Codes),
            Some("remove") => factor_of(fields).map(Then::Remove),
            Some("passkey") => Some(Then::Passkey(passkeys::name_of(fields))),
            _ => None,
        }
    }
    fn hidden(&self) -> String {
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
async fn overview(
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
            return reauth_page(pages, visitor, then, StatusCode::OK, None).await;
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

/// The recent-authentication step: a code of a factor (or a recovery code), or the password
/// for a user without factors; the error next to the field it belongs to.
async fn reauth_page(
    pages: &AccountPages,
    visitor: &Visitor,
    then: Then,
    status: StatusCode,
    error: Option<(&str, &str)>,
) -> Response {
    // The factors the policy lets prove it (passkeys_only drops TOTP); with none, the password.
    let (has_factor, totp, passkey) = match pages.engine().list_factors(&visitor.principal).await {
        Ok(o) => {
            let usable = |k| o.factors.iter().any(|f| f.kind == k && o.policy.allows(k));
            let (totp, passkey) = (usable(FactorKind::Totp), usable(FactorKind::Webauthn));
            (totp || passkey, totp, passkey)
        }
        Err(e) => {
            let body = alert(AlertKind::Error, "error", &refusal(&e).1);
            return pages.page(refusal(&e).0, visitor, PATH, "Confirm it is you", &body);
        }
    };
    let err = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, m)| m);
    let passkey_form = if passkey && pages.engine().passkeys_available() {
        passkeys::reauth_form(pages, visitor, &then.hidden(), err("passkey")).await
    } else {
        None
    };
    let form = |field: Field<'_>, button: &str, id: &str| {
        format!(
            "<form method=\"post\" action=\"{REAUTH_PATH}\" id=\"{id}-form\">{csrf}{then}{field}\
             <div class=\"actions\"><button id=\"{id}-submit\" type=\"submit\">{button}</button></div></form>\n",
            csrf = csrf_input(&visitor.csrf),
            then = then.hidden(),
            field = field.html(),
        )
    };
    let forms = if has_factor {
        let mut code = Field::new("code", "Code from your authenticator app", "text");
        code.autocomplete = "one-time-code";
        code.error = err("code");
        let mut recovery = Field::new("recovery_code", "Recovery code", "text");
        recovery.autocomplete = "off";
        recovery.error = err("recovery_code");
        // A recovery code works for every factor.
        let code = if totp {
            form(code, "Verify", "code")
        } else {
            String::new()
        };
        format!(
            "{passkey}{code}<details id=\"use-recovery-code\"{open}><summary>Use a recovery code</summary>\n{}</details>",
            form(recovery, "Use recovery code", "recovery"),
            passkey = passkey_form.as_deref().unwrap_or_default(),
            open = if err("recovery_code").is_some() || !(totp || passkey_form.is_some()) {
                " open"
            } else {
                ""
            },
        )
    } else {
        let mut password = Field::new("password", "Password", "password");
        password.autocomplete = "current-password";
        password.error = err("password");
        form(password, "Continue", "password")
    };
    let body = format!(
        "<section class=\"card\" aria-labelledby=\"reauth-h\">\n\
         <h2 id=\"reauth-h\">Confirm it is you</h2>\n\
         <p>Changing your sign-in factors needs a fresh confirmation (valid for 5 minutes).</p>\n\
         {forms}<div class=\"actions\"><a href=\"{PATH}\">Cancel</a></div></section>"
    );
    if passkey_form.is_some() {
        pages.passkey_page(status, visitor, PATH, "Confirm it is you", &body)
    } else {
        pages.page(status, visitor, PATH, "Confirm it is you", &body)
    }
}

pub(crate) async fn reauthenticate(
    State(pages): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let (visitor, fields) = match checked(&pages, &headers, form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(then) = Then::of(&fields) else {
        let msg = (AlertKind::Error, "The form is incomplete. Start again.");
        return overview(&pages, &visitor, StatusCode::BAD_REQUEST, Some(msg), None).await;
    };
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    // A passkey answer (posted by the page's script): the ceremony and the credential JSON.
    let passkey_json = match (get("ceremony"), get("credential")) {
        (Some(ceremony), Some(credential)) => Some(portcullis_edge::page_layout::passkey_answer(
            ceremony, credential,
        )),
        _ => None,
    };
    if let Some(answer) = &passkey_json {
        let result = match answer {
            Some(credential) => {
                let answer = PasskeyAnswer {
                    ceremony: get("ceremony").unwrap_or_default(),
                    credential,
                };
                let proof = ReauthProof::Factor(SecondFactorProof::Passkey(answer));
                pages
                    .engine()
                    .reauthenticate(&visitor.principal, proof, &origin.audit)
                    .await
                    .map(|_| ())
            }
            None => Err(CoreError::InvalidArgument("not a passkey answer".into())),
        };
        return match result {
            Ok(()) => perform(&pages, &visitor, then, &origin).await,
            Err(e) => match passkeys::reauth_refusal(&e) {
                Some((status, msg)) => {
                    let msg = Some(("passkey", msg));
                    reauth_page(&pages, &visitor, then, status, msg).await
                }
                None => refused(&pages, &visitor, then, e).await,
            },
        };
    }
    let (field, proof, max) = match (get("code"), get("recovery_code"), fields.get("password")) {
        (Some(c), _, _) => (
            "code",
            ReauthProof::Factor(SecondFactorProof::Totp(c)),
            MAX_CODE,
        ),
        (_, Some(c), _) => (
            "recovery_code",
            ReauthProof::Factor(SecondFactorProof::RecoveryCode(c)),
            MAX_CODE,
        ),
        (_, _, Some(p)) if !p.is_empty() => ("password", ReauthProof::Password(p), MAX_PASSWORD),
        _ => {
            let field = if fields.contains_key("password") {
                "password"
            } else {
                "code"
            };
            let msg = Some((field, "Enter it to continue."));
            return reauth_page(&pages, &visitor, then, StatusCode::BAD_REQUEST, msg).await;
        }
    };
    let long = match proof {
        ReauthProof::Password(p) => p.len() > max,
        ReauthProof::Factor(SecondFactorProof::Totp(c) | SecondFactorProof::RecoveryCode(c)) => {
            c.len() > max
        }
        // A passkey answer is handled above.
        ReauthProof::Factor(SecondFactorProof::Passkey(_)) => false,
    };
    let result = if long {
        Err(CoreError::Mfa(MfaRefusal::InvalidCode))
    } else {
        pages
            .engine()
            .reauthenticate(&visitor.principal, proof, &origin.audit)
            .await
    };
    match result {
        Ok(_) => perform(&pages, &visitor, then, &origin).await,
        Err(CoreError::Mfa(MfaRefusal::InvalidCode) | CoreError::InvalidCredentials) => {
            let msg = match field {
                "recovery_code" => BAD_RECOVERY,
                "password" => BAD_PASSWORD,
                _ => BAD_CODE,
            };
            let status = StatusCode::UNAUTHORIZED;
            reauth_page(&pages, &visitor, then, status, Some((field, msg))).await
        }
        Err(e) => refused(&pages, &visitor, then, e).await,
    }
}
