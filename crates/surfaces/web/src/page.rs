//! The sign-in pages: the password form, the landing page and failures, on the shared layout
//! of the edge (`page_layout`).

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use portcullis_core::branding::Brand;
use portcullis_edge::page_layout::{
    AlertKind, Field, Layout, PageScript, alert, csrf_input, render,
};

pub use portcullis_edge::html::{
    CSP, allow_form_redirect_to, cookie, cookie_name, esc, secure_headers, set_cookie,
};

/// Where a sign-in form's error belongs: next to a field, or about the whole form.
#[derive(Debug, Clone, Copy)]
pub enum FormError<'a> {
    Form(&'a str),
    Email(&'a str),
    Password(&'a str),
    /// Next to the "Sign in with a passkey" button.
    Passkey(&'a str),
}

/// What the form continues after the sign-in.
#[derive(Debug, Clone, Copy)]
pub enum Continues<'a> {
    /// Nothing: the landing page shows the session token.
    Nothing,
    /// A pending OpenID authorization request (opaque, carried along).
    Authorization(&'a str),
    /// A page of this server (a checked relative path), e.g. `/account`.
    Page(&'a str),
}

impl Continues<'_> {
    pub fn r(&self) -> Option<&str> {
        match self {
            Continues::Nothing => None,
            Continues::Authorization(r) | Continues::Page(r) => Some(r),
        }
    }
}

/// The password form, and with `passkeys` the passwordless sign-in under it (the only sign-in
/// page content that needs the passkey script). Every value is escaped here. A credential
/// failure is shown next to the password (the `id="error"` element either way, so clients find
/// it in one place).
pub fn login_form(
    status: StatusCode,
    brand: &Brand,
    csrf: &str,
    email: &str,
    continues: Continues<'_>,
    error: Option<FormError<'_>>,
    passkeys: bool,
) -> Response {
    // A sign-in that continues something may go on at the organisation's own provider.
    let oidc = !matches!(continues, Continues::Nothing);
    let banner = match error {
        Some(FormError::Form(m)) => alert(AlertKind::Error, "error", m),
        _ => String::new(),
    };
    let mut email_field = Field::new("email", "Email", "email");
    email_field.value = email;
    email_field.autocomplete = "username";
    let mut password = Field::new("password", "Password", "password");
    password.autocomplete = "current-password";
    password.required = !oidc;
    if oidc {
        password.hint = Some(
            "If your organisation signs you in with its own provider, leave the password empty.",
        );
    }
    match error {
        Some(FormError::Email(m)) => {
            email_field.error = Some(m);
            email_field.error_id = Some("error");
        }
        Some(FormError::Password(m)) => {
            password.error = Some(m);
            password.error_id = Some("error");
        }
        _ => {}
    }
    let hidden = format!(
        "{}{}",
        csrf_input(csrf),
        continues
            .r()
            .map(|r| format!("<input type=\"hidden\" name=\"r\" value=\"{}\">\n", esc(r)))
            .unwrap_or_default(),
    );
    let passkey = if passkeys {
        let error = match error {
            Some(FormError::Passkey(m)) => Some(m),
            _ => None,
        };
        crate::passkeys::sign_in_section(&hidden, error)
    } else {
        String::new()
    };
    let body = format!(
        "{banner}<form method=\"post\" action=\"/login\" novalidate>\n{hidden}{email}{password}\
         <div class=\"actions stack\"><button id=\"submit\" type=\"submit\">Sign in</button></div>\n</form>\n{passkey}",
        email = email_field.html(),
        password = password.html(),
    );
    let layout = Layout::card(brand, "Sign in");
    let layout = if passkeys {
        layout.with_script(PageScript::WebAuthnFetching)
    } else {
        layout
    };
    render(status, &layout, &body)
}

/// The landing page: the new session's token for the native client to take. It lives only in
/// this (uncached) page; nothing is put into cookies or script-readable storage.
pub fn landing(brand: &Brand, email: &str, token: &str, expires_at: &str) -> Response {
    let body = format!(
        "<p>Signed in as <strong id=\"user\">{email}</strong>.</p>\n\
         <p>Copy this session token into the application that sent you here. It is shown once, \
         is not stored in this browser, and expires at <time id=\"expires\">{exp}</time>.</p>\n\
         <div class=\"field\"><label for=\"session-token\">Session token</label>\n\
         <textarea id=\"session-token\" readonly rows=\"6\" cols=\"80\">{token}</textarea></div>\n\
         <p class=\"muted\">You can close this window.</p>",
        email = esc(email),
        token = esc(token),
        exp = esc(expires_at),
    );
    render(StatusCode::OK, &Layout::card(brand, "Signed in"), &body)
}

/// A page that sends the browser on to `location` (same-origin, URL-safe) by itself (`Refresh`)
/// or by its link. A form's answer cannot redirect to another site: Chromium applies the form
/// page's `form-action` to every redirect that follows, the provider's own hops included. The
/// navigation this page starts is no form's.
pub fn continue_to(brand: &Brand, location: &str) -> Response {
    let body = format!(
        "<p>Taking you to your organisation's sign-in…</p>\n\
         <p><a id=\"continue\" href=\"{href}\">Continue to your organisation's sign-in</a></p>",
        href = esc(location),
    );
    let mut r = render(StatusCode::OK, &Layout::card(brand, "Signing in"), &body);
    if let Ok(v) = HeaderValue::from_str(&format!("0; url={location}")) {
        r.headers_mut().insert(header::REFRESH, v);
    }
    r
}

/// A one-card page around `body` (already-escaped HTML).
pub fn html(brand: &Brand, status: StatusCode, title: &str, body: &str) -> Response {
    render(status, &Layout::card(brand, title), body)
}

/// [`html`] for a page with a passkey form (its options in the page): loads the passkey script.
pub fn passkey_html(brand: &Brand, status: StatusCode, title: &str, body: &str) -> Response {
    let layout = Layout::card(brand, title).with_script(PageScript::WebAuthn);
    render(status, &layout, body)
}

/// A failure page with a way back.
pub fn failure(brand: &Brand, status: StatusCode, message: &str) -> Response {
    let body = format!(
        "{}<p>Start again from your application, or \
         <a href=\"/login\">sign in with a password</a>.</p>",
        alert(AlertKind::Error, "error", message)
    );
    render(status, &Layout::card(brand, "Sign-in failed"), &body)
}
