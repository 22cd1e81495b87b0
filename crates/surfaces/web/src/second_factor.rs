//! The second step of a browser sign-in (docs/design/mfa.md, "Browser sign-in"): after the
//! first factor (password or upstream SSO) the core may stop the sign-in with a challenge; this
//! module asks for a TOTP or recovery code, or enrols a TOTP factor when the policy requires one
//! and shows the recovery codes once, then ends the sign-in as the password page does (landing
//! page, or back to the OpenID authorization request).
//!
//! The challenge handle lives only in an HttpOnly, SameSite=Lax cookie that expires with the
//! challenge (never in a URL or a page); every form carries the double-submit CSRF token and is
//! checked against `Origin`, like the password form.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use portcullis_core::audit::AuditContext;
use portcullis_core::engine::{LoginGrant, SecondFactorProof};
use portcullis_core::error::MfaRefusal;
use portcullis_core::factors::{CHALLENGE_TTL_SECS, MfaChallenge, PasskeyAnswer, SignInStep};
use portcullis_core::model::FactorKind;
use portcullis_core::{CoreError, crypto};
use portcullis_edge::Origin;
use portcullis_edge::html::{OIDC_RESUME_PATH, same_origin};
use serde::Deserialize;

use crate::page::{self, Continues, FormError, esc, html};
use crate::{Ctx, Web, continues_of, core_failure, retry_after, url_safe};
use crate::{enrolment, passkeys};

/// The second-step form's target.
pub(crate) const SECOND_FACTOR_PATH: &str = "/login/second-factor";
/// The enrolment form's target (a sign-in whose policy requires a factor the user lacks).
pub(crate) const ENROL_PATH: &str = "/login/enrol";
/// The recovery-code page's "Continue" (the landing page, when no application waits).
pub(crate) const CONTINUE_PATH: &str = "/login/continue";
const CHALLENGE_COOKIE: &str = "portcullis-mfa";
/// Codes are 6 digits, recovery codes 29 characters; anything much longer is refused unread.
pub(crate) const MAX_CODE: usize = 64;
/// An `otpauth://` URI of ours is about 150 bytes.
const MAX_TOKEN: usize = 4096;

const EXPIRED: &str = "This sign-in expired or was already finished. Sign in again.";
pub(crate) const BAD_CODE: &str = "That code is not valid. Enter the current code from your app.";
const BAD_RECOVERY: &str = "That recovery code is not valid or was already used.";

/// Which field an error belongs next to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Code,
    RecoveryCode,
    Passkey,
}

/// The answer to a first factor: signed in, or the second step's page with the challenge
/// cookie.
pub(crate) async fn after_first_factor(
    web: &Web,
    step: SignInStep,
    continues: Continues<'_>,
    ctx: &AuditContext,
) -> Response {
    match step {
        SignInStep::SignedIn(grant) => signed_in(web, &grant, continues),
        SignInStep::SecondFactor(ch) => {
            let mut r = verify_page(web, StatusCode::OK, &ch, continues, None).await;
            set_challenge(web, &mut r, &ch.handle);
            r
        }
        // A policy that allows only passkeys: their enrolment (`passkeys.rs`).
        SignInStep::Enrolment(ch) if !ch.kinds.contains(&FactorKind::Totp) => {
            let mut r =
                passkeys::enrol_page(web, StatusCode::OK, &ch, continues, (None, ctx)).await;
            set_challenge(web, &mut r, &ch.handle);
            r
        }
        SignInStep::Enrolment(ch) => {
            let enrolment = match web
                .engine
                .start_challenge_enrolment(&ch.handle, None, ctx)
                .await
            {
                Ok(e) => e,
                Err(e) => return failure(web, e, continues).await,
            };
            let uri = enrolment.otpauth_uri.as_str();
            let mut r = enrolment::enrol_page(
                web,
                StatusCode::OK,
                &ch.email,
                enrolment.factor,
                uri,
                continues,
                None,
            );
            set_challenge(web, &mut r, &ch.handle);
            r
        }
    }
}

/// The end of a sign-in: back to the OpenID authorization it continues, or the landing page.
/// The form's CSRF cookie and the challenge cookie have served their purpose.
pub(crate) fn signed_in(web: &Web, grant: &LoginGrant, continues: Continues<'_>) -> Response {
    let mut r = match continues {
        Continues::Authorization(p) => crate::continue_authorization(web, p, grant),
        Continues::Page(path) => crate::continue_signed_in(web, path, grant),
        Continues::Nothing => page::landing(
            &web.engine.default_brand(),
            &grant.user.email,
            &grant.token.token,
            &grant.token.expires_at.to_rfc3339(),
        ),
    };
    clear_cookies(web, &mut r);
    r
}

fn challenge_cookie(web: &Web) -> String {
    page::cookie_name(CHALLENGE_COOKIE, web.secure)
}

pub(crate) fn set_challenge(web: &Web, r: &mut Response, handle: &str) {
    r.headers_mut().append(
        header::SET_COOKIE,
        page::set_cookie(
            &challenge_cookie(web),
            handle,
            CHALLENGE_TTL_SECS,
            web.secure,
        ),
    );
}

fn clear_cookies(web: &Web, r: &mut Response) {
    for name in [challenge_cookie(web), web.csrf_cookie()] {
        r.headers_mut().append(
            header::SET_COOKIE,
            page::set_cookie(&name, "", 0, web.secure),
        );
    }
}

/// The double-submit CSRF token and `Origin`, as for the password form.
pub(crate) fn form_is_ours(web: &Web, headers: &HeaderMap, csrf: &str) -> bool {
    let cookie = page::cookie(headers, &web.csrf_cookie()).unwrap_or_default();
    !csrf.is_empty()
        && crypto::constant_time_eq(cookie.as_bytes(), csrf.as_bytes())
        && same_origin(headers, &web.public_origin)
}

/// A failure that ends this sign-in: the password form again (keeping the application's
/// request) for an unusable challenge, else the failure page.
pub(crate) async fn failure(web: &Web, e: CoreError, continues: Continues<'_>) -> Response {
    let mut r = match e {
        CoreError::InvalidToken(_) | CoreError::TokenExpired => {
            web.form(
                StatusCode::BAD_REQUEST,
                "",
                continues,
                Some(FormError::Form(EXPIRED)),
            )
            .await
        }
        e => {
            let (status, msg) = core_failure(&e);
            let mut r = page::failure(&web.engine.default_brand(), status, msg);
            retry_after(&mut r, &e);
            r
        }
    };
    r.headers_mut().append(
        header::SET_COOKIE,
        page::set_cookie(&challenge_cookie(web), "", 0, web.secure),
    );
    r
}

/// A fresh CSRF token and the hidden inputs every form of a page carries (the token and the
/// pending request).
pub(crate) fn new_form(continues: Continues<'_>) -> (String, String) {
    let csrf = crypto::random_token(32);
    let hidden = format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n{}",
        esc(&csrf),
        continues
            .r()
            .map(|r| format!("<input type=\"hidden\" name=\"r\" value=\"{}\">\n", esc(r)))
            .unwrap_or_default()
    );
    (csrf, hidden)
}

/// A page whose forms carry a fresh CSRF token (also set as the cookie) and the pending
/// request; its CSP lets a form end at the application the request returns to.
pub(crate) fn form_page(
    web: &Web,
    status: StatusCode,
    title: &str,
    continues: Continues<'_>,
    body: impl FnOnce(&str) -> String,
) -> Response {
    let (csrf, hidden) = new_form(continues);
    let mut r = html(&web.engine.default_brand(), status, title, &body(&hidden));
    web.protect_form(&mut r, &csrf, continues);
    r
}

pub(crate) fn field_error(error: Option<(Field, &str)>, field: Field, id: &str) -> String {
    match error {
        Some((f, msg)) if f == field => {
            format!(
                "<p id=\"{id}-error\" class=\"field-error\" role=\"alert\">{}</p>\n",
                esc(msg)
            )
        }
        _ => String::new(),
    }
}

/// The second step: a passkey (when the user has one and this server can host them), a TOTP
/// code (when the user has an app), or (behind "Use a recovery code") a recovery code.
async fn verify_page(
    web: &Web,
    status: StatusCode,
    ch: &MfaChallenge,
    continues: Continues<'_>,
    error: Option<(Field, &str)>,
) -> Response {
    let (csrf, hidden) = new_form(continues);
    let passkey_error = error.filter(|(f, _)| *f == Field::Passkey).map(|(_, m)| m);
    let passkey = passkeys::second_step_form(web, ch, &hidden, passkey_error).await;
    let code_error = field_error(error, Field::Code, "code");
    let described = if code_error.is_empty() {
        ""
    } else {
        " aria-describedby=\"code-error\""
    };
    let code = if ch.kinds.contains(&FactorKind::Totp) {
        format!(
            "<form method=\"post\" action=\"{SECOND_FACTOR_PATH}\" id=\"code-form\">\n{hidden}\
             <p><label for=\"code\">Code from your authenticator app</label>\n\
             <input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" \
             pattern=\"[0-9]*\" maxlength=\"8\" autocomplete=\"one-time-code\" required \
             autofocus{described}></p>\n{code_error}\
             <p><button id=\"submit\" type=\"submit\">Verify</button></p>\n</form>\n"
        )
    } else {
        String::new()
    };
    let recovery = if ch.recovery_codes {
        let recovery_error = field_error(error, Field::RecoveryCode, "recovery_code");
        format!(
            "<details id=\"use-recovery-code\"{open}><summary>Use a recovery code</summary>\n\
             <form method=\"post\" action=\"{SECOND_FACTOR_PATH}\" id=\"recovery-form\">\n{hidden}\
             <p><label for=\"recovery_code\">Recovery code</label>\n\
             <input id=\"recovery_code\" name=\"recovery_code\" type=\"text\" \
             autocomplete=\"off\" autocapitalize=\"none\" spellcheck=\"false\" required></p>\n\
             {recovery_error}<p><button id=\"submit-recovery\" type=\"submit\">Use recovery code</button></p>\n\
             </form></details>\n",
            open = if recovery_error.is_empty() {
                ""
            } else {
                " open"
            },
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p>Signing in as <strong id=\"user\">{email}</strong>.</p>\n{passkey}{code}{recovery}\
         <div class=\"actions\"><a href=\"/login\">Start again</a></div>",
        email = esc(&ch.email),
        passkey = passkey.as_deref().unwrap_or_default(),
    );
    let brand = web.engine.default_brand();
    let title = "Two-step verification";
    let mut r = if passkey.is_some() {
        page::passkey_html(&brand, status, title, &body)
    } else {
        html(&brand, status, title, &body)
    };
    web.protect_form(&mut r, &csrf, continues);
    r
}

/// The recovery codes, shown once, then "Continue": to the application (the session cookie is
/// set with this page), or to the landing page (the token rides in the form, never a cookie).
pub(crate) fn codes_page(
    web: &Web,
    grant: &LoginGrant,
    codes: &[String],
    continues: Continues<'_>,
) -> Response {
    let items: String = codes
        .iter()
        .map(|c| format!("<li><code>{}</code></li>\n", esc(c)))
        .collect();
    let intro = format!(
        "<p>Two-step verification is on for <strong id=\"user\">{}</strong>. Save these recovery \
         codes somewhere safe: each signs you in once if you lose your authenticator. They are \
         shown only now.</p>\n<ol id=\"recovery-codes\">\n{items}</ol>\n",
        esc(&grant.user.email)
    );
    // What the sign-in continues: the authorization request, or a page of this server.
    let next = match continues {
        Continues::Authorization(p) => {
            let mut href = format!("{OIDC_RESUME_PATH}?r=");
            href.extend(url_safe(p));
            Some(href)
        }
        Continues::Page(path) => Some(path.to_owned()),
        Continues::Nothing => None,
    };
    let mut r = match next {
        Some(href) => {
            let body = format!(
                "{intro}<p><a id=\"continue\" href=\"{}\">Continue</a></p>",
                esc(&href)
            );
            let mut r = html(
                &web.engine.default_brand(),
                StatusCode::OK,
                "Save your recovery codes",
                &body,
            );
            crate::set_session_cookie(web, &mut r, grant);
            // No form follows: the sign-in form's token has served its purpose.
            r.headers_mut().append(
                header::SET_COOKIE,
                page::set_cookie(&web.csrf_cookie(), "", 0, web.secure),
            );
            r
        }
        None => form_page(
            web,
            StatusCode::OK,
            "Save your recovery codes",
            Continues::Nothing,
            |hidden| {
                format!(
                    "{intro}<form method=\"post\" action=\"{CONTINUE_PATH}\">\n{hidden}\
                 <input type=\"hidden\" name=\"session\" value=\"{token}\">\n\
                 <p><button id=\"continue\" type=\"submit\">Continue</button></p>\n</form>",
                    token = esc(&grant.token.token),
                )
            },
        ),
    };
    r.headers_mut().append(
        header::SET_COOKIE,
        page::set_cookie(&challenge_cookie(web), "", 0, web.secure),
    );
    r
}

#[derive(Deserialize)]
pub(crate) struct SecondFactorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    r: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    /// A passkey answer: the ceremony the page started, and the browser's credential JSON.
    #[serde(default)]
    ceremony: Option<String>,
    #[serde(default)]
    credential: Option<String>,
}

/// What every form of the second step carries.
pub(crate) trait ChallengeForm {
    fn csrf(&self) -> &str;
    fn r(&self) -> Option<&str>;
}

impl ChallengeForm for SecondFactorForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
    fn r(&self) -> Option<&str> {
        self.r.as_deref()
    }
}

/// A form's post, before any work: well-formed, ours (CSRF, `Origin`), with a challenge, within
/// the per-IP rate. The form, its challenge handle and what the sign-in continues.
pub(crate) async fn accepted<'f, F: ChallengeForm>(
    web: &Web,
    origin: &Origin,
    headers: &HeaderMap,
    form: &'f Result<Form<F>, FormRejection>,
) -> Result<(&'f F, String, Continues<'f>), Box<Response>> {
    let Ok(Form(f)) = form else {
        let r = page::failure(
            &web.engine.default_brand(),
            StatusCode::BAD_REQUEST,
            "The request is not valid.",
        );
        return Err(Box::new(r));
    };
    let continues = continues_of(f.r());
    if !form_is_ours(web, headers, f.csrf()) {
        let msg = Some(FormError::Form("The form expired. Please sign in again."));
        let r = web.form(StatusCode::FORBIDDEN, "", continues, msg).await;
        return Err(Box::new(r));
    }
    let Some(handle) = page::cookie(headers, &challenge_cookie(web)) else {
        let e = CoreError::InvalidToken("no challenge");
        return Err(Box::new(failure(web, e, continues).await));
    };
    if let Err(e) = web.engine.check_ip_rate(origin.ip) {
        return Err(Box::new(failure(web, e, continues).await));
    }
    Ok((f, handle, continues))
}

pub(crate) async fn second_factor_submit(
    State(web): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Result<Form<SecondFactorForm>, FormRejection>,
) -> Response {
    let (f, handle, continues) = match accepted(&web, &origin, &headers, &form).await {
        Ok(accepted) => accepted,
        Err(r) => return *r,
    };
    let credential = match (f.ceremony.as_deref(), f.credential.as_deref()) {
        (Some(ceremony), Some(credential)) => Some(portcullis_edge::page_layout::passkey_answer(
            ceremony, credential,
        )),
        _ => None,
    };
    let (field, proof) = match (f.code.as_deref(), f.recovery_code.as_deref(), &credential) {
        (Some(c), None, None) => (Field::Code, Some(SecondFactorProof::Totp(c.trim()))),
        (None, Some(c), None) => (
            Field::RecoveryCode,
            Some(SecondFactorProof::RecoveryCode(c.trim())),
        ),
        (None, None, Some(answer)) => (
            Field::Passkey,
            answer.as_ref().map(|credential| {
                SecondFactorProof::Passkey(PasskeyAnswer {
                    ceremony: f.ceremony.as_deref().unwrap_or_default(),
                    credential,
                })
            }),
        ),
        _ => {
            return page::failure(
                &web.engine.default_brand(),
                StatusCode::BAD_REQUEST,
                "The form is incomplete.",
            );
        }
    };
    let result = match proof {
        None => Err(CoreError::InvalidArgument("not a passkey answer".into())),
        Some(SecondFactorProof::Totp(c) | SecondFactorProof::RecoveryCode(c))
            if c.len() > MAX_CODE =>
        {
            Err(CoreError::Mfa(MfaRefusal::InvalidCode))
        }
        Some(proof) => {
            web.engine
                .complete_second_factor(&handle, proof, &origin.audit)
                .await
        }
    };
    match result {
        Ok(grant) => signed_in(&web, &grant, continues),
        Err(e @ (CoreError::Mfa(MfaRefusal::InvalidCode) | CoreError::RateLimited { .. })) => {
            // The challenge stays for another try, while it lasts.
            let ch = match web.engine.mfa_challenge(&handle).await {
                Ok(ch) => ch,
                Err(e) => return failure(&web, e, continues).await,
            };
            let (status, msg) = match &e {
                CoreError::RateLimited { .. } => core_failure(&e),
                _ if field == Field::RecoveryCode => (StatusCode::UNAUTHORIZED, BAD_RECOVERY),
                _ if field == Field::Passkey => (StatusCode::UNAUTHORIZED, passkeys::REJECTED),
                _ => (StatusCode::UNAUTHORIZED, BAD_CODE),
            };
            let mut r = verify_page(&web, status, &ch, continues, Some((field, msg))).await;
            retry_after(&mut r, &e);
            r
        }
        // A spent, expired or malformed passkey answer while the sign-in itself still waits:
        // the same step with a fresh ceremony and the reason next to the button.
        Err(e) if field == Field::Passkey && passkeys::refusal(&e).is_some() => {
            let ch = match web.engine.mfa_challenge(&handle).await {
                Ok(ch) => ch,
                Err(e) => return failure(&web, e, continues).await,
            };
            let (status, msg) = passkeys::refusal(&e).unwrap_or((StatusCode::BAD_REQUEST, ""));
            verify_page(&web, status, &ch, continues, Some((field, msg))).await
        }
        Err(e) => failure(&web, e, continues).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct ContinueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    session: String,
}

/// "Continue" after the recovery codes: the landing page of the session the sign-in started.
pub(crate) async fn continue_submit(
    State(web): Ctx,
    headers: HeaderMap,
    form: Result<Form<ContinueForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return page::failure(
            &web.engine.default_brand(),
            StatusCode::BAD_REQUEST,
            "The request is not valid.",
        );
    };
    if !form_is_ours(&web, &headers, &f.csrf) || f.session.len() > MAX_TOKEN {
        return page::failure(
            &web.engine.default_brand(),
            StatusCode::FORBIDDEN,
            "The form expired. Please sign in again.",
        );
    }
    let signed_in = match web.engine.authenticate(&f.session).await {
        Ok(p) if p.actor.is_none() && !p.is_credential_based() => p,
        _ => {
            return page::failure(
                &web.engine.default_brand(),
                StatusCode::BAD_REQUEST,
                EXPIRED,
            );
        }
    };
    let email = match web.engine.cached_user(signed_in.user).await {
        Ok(Some(u)) => u.email,
        _ => {
            return page::failure(
                &web.engine.default_brand(),
                StatusCode::BAD_REQUEST,
                EXPIRED,
            );
        }
    };
    let expires = signed_in
        .expires_at
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut r = page::landing(&web.engine.default_brand(), &email, &f.session, &expires);
    clear_cookies(&web, &mut r);
    r
}
