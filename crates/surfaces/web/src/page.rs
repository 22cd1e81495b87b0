//! The sign-in pages: the password form, the landing page and failures, on the shared page
//! primitives of the edge.

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

pub use portcullis_edge::html::{
    CSP, allow_form_redirect_to, cookie, cookie_name, esc, html, secure_headers, set_cookie,
};

/// The password form. `error` and `email` are escaped here.
/// `pending` is an OpenID authorization request the sign-in continues (opaque, carried along).
pub fn login_form(
    status: StatusCode,
    csrf: &str,
    email: &str,
    pending: Option<&str>,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p id=\"error\" role=\"alert\">{}</p>\n", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n{pending}\
         <p><label>Email <input id=\"email\" name=\"email\" type=\"email\" \
         autocomplete=\"username\" required value=\"{email}\"></label></p>\n\
         <p><label>Password <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\"{required}></label></p>\n{sso_note}\
         <p><button id=\"submit\" type=\"submit\">Sign in</button></p>\n</form>",
        csrf = esc(csrf),
        email = esc(email),
        // An application's sign-in may continue at the organisation's own provider instead.
        required = if pending.is_some() { "" } else { " required" },
        sso_note = if pending.is_some() {
            "<p id=\"sso-note\">If your organisation signs you in with its own provider, \
             leave the password empty.</p>\n"
        } else {
            ""
        },
        pending = pending
            .map(|r| format!("<input type=\"hidden\" name=\"r\" value=\"{}\">\n", esc(r)))
            .unwrap_or_default(),
    );
    html(status, "Sign in", &body)
}

/// The landing page: the new session's token for the native client to take. It lives only in
/// this (uncached) page; nothing is put into cookies or script-readable storage.
pub fn landing(email: &str, token: &str, expires_at: &str) -> Response {
    let body = format!(
        "<p>Signed in as <strong id=\"user\">{email}</strong>.</p>\n\
         <p>Copy this session token into the application that sent you here. It is shown once, \
         is not stored in this browser, and expires at <time id=\"expires\">{exp}</time>.</p>\n\
         <p><textarea id=\"session-token\" readonly rows=\"6\" cols=\"80\" \
         aria-label=\"Session token\">{token}</textarea></p>\n\
         <p>You can close this window.</p>",
        email = esc(email),
        token = esc(token),
        exp = esc(expires_at),
    );
    html(StatusCode::OK, "Signed in", &body)
}

/// A page that sends the browser on to `location` (same-origin, URL-safe) by itself (`Refresh`)
/// or by its link. A form's answer cannot redirect to another site: Chromium applies the form
/// page's `form-action` to every redirect that follows, the provider's own hops included. The
/// navigation this page starts is no form's.
pub fn continue_to(location: &str) -> Response {
    let body = format!(
        "<p><a id=\"continue\" href=\"{href}\">Continue to your organisation's sign-in</a></p>",
        href = esc(location),
    );
    let mut r = html(StatusCode::OK, "Signing in", &body);
    if let Ok(v) = HeaderValue::from_str(&format!("0; url={location}")) {
        r.headers_mut().insert(header::REFRESH, v);
    }
    r
}

/// A failure page with a way back.
pub fn failure(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p id=\"error\" role=\"alert\">{}</p>\n<p>Start again from your application, or \
         <a href=\"/login\">sign in with a password</a>.</p>",
        esc(message)
    );
    html(status, "Sign-in failed", &body)
}
