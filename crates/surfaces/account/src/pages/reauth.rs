//! The recent-authentication step of `/account/security` (docs/design/mfa.md, "Account
//! pages"): a change the core refuses with `RecentAuthenticationRequired` shows this page; its
//! forms carry what was asked (`then`), so a right proof goes straight on with it. The proofs:
//! a passkey (the page's script, `passkeys.rs`), an app's code, a recovery code, or the
//! password for a user without factors; a wrong one is shown next to its field.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::CoreError;
use portcullis_core::engine::SecondFactorProof;
use portcullis_core::error::MfaRefusal;
use portcullis_core::factors::{PasskeyAnswer, ReauthProof};
use portcullis_core::model::FactorKind;
use portcullis_edge::Origin;
use portcullis_edge::page_layout::{AlertKind, Field, alert, csrf_input};

use super::security::{
    BAD_CODE, BAD_RECOVERY, MAX_CODE, PATH, Then, checked, overview, perform, refused,
};
use super::{AccountPages, Ctx, Fields, Visitor, passkeys, refusal};

pub(crate) const REAUTH_PATH: &str = "/account/security/reauthenticate";
const MAX_PASSWORD: usize = 4096;
const BAD_PASSWORD: &str = "That password is not right.";

/// The recent-authentication step: a code of a factor (or a recovery code), or the password
/// for a user without factors; the error next to the field it belongs to.
pub(super) async fn page(
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

pub(crate) async fn submit(
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
                    page(&pages, &visitor, then, status, msg).await
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
            return page(&pages, &visitor, then, StatusCode::BAD_REQUEST, msg).await;
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
            page(&pages, &visitor, then, status, Some((field, msg))).await
        }
        Err(e) => refused(&pages, &visitor, then, e).await,
    }
}
