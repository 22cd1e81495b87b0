//! The provider's pages: consent, org choice, sign-out confirmation, signed out, and errors that
//! must not be redirected. Every form carries the pending request and a CSRF token that is also
//! an HttpOnly SameSite cookie; every value is escaped; the edge's strict headers apply.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use portcullis_core::crypto;
use portcullis_core::model::Org;
use portcullis_edge::html::{self, esc};

use super::{DECIDE_PATH, LOGOUT_PATH, Oidc};

const CSRF_TTL_SECS: i64 = 600;

/// What each scope lets the application see, in words.
fn scope_text(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your Portcullis account id)",
        "profile" => "See your name and picture",
        "email" => "See your email address",
        "orgs" => "See the orgs you belong to and your roles in them",
        "offline_access" => "Stay signed in when you are away (offline access)",
        _ => "Other access",
    }
}

impl Oidc {
    /// A page with a fresh CSRF token in the form and in its cookie. `redirect_to`: where the
    /// form's answer may redirect the browser (the client), named in the page's CSP.
    fn form_page(
        &self,
        title: &str,
        redirect_to: Option<&str>,
        body: impl FnOnce(&str) -> String,
    ) -> Response {
        let csrf = crypto::random_token(32);
        let mut r = html::html(StatusCode::OK, title, &body(&esc(&csrf)));
        if let Some(target) = redirect_to {
            html::allow_form_redirect_to(r.headers_mut(), target);
        }
        r.headers_mut().append(
            header::SET_COOKIE,
            html::set_cookie(&self.csrf_cookie(), &csrf, CSRF_TTL_SECS, self.secure),
        );
        r
    }

    pub(crate) fn consent_page(&self, pending: &str, client: &str, scopes: &[String]) -> Response {
        let items: String = scopes
            .iter()
            .map(|s| {
                format!(
                    "<li id=\"scope-{id}\">{}</li>\n",
                    esc(scope_text(s)),
                    id = esc(s)
                )
            })
            .collect();
        let redirect_to = self.provider.open_pending(pending).map(|r| r.redirect_uri);
        self.form_page("Allow access?", redirect_to.as_deref(), |csrf| {
            format!(
                "<p><strong id=\"client\">{client}</strong> asks to:</p>\n<ul>\n{items}</ul>\n\
                 <form method=\"post\" action=\"{DECIDE_PATH}\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <input type=\"hidden\" name=\"r\" value=\"{pending}\">\n\
                 <p><button id=\"allow\" name=\"decision\" value=\"allow\" type=\"submit\">Allow</button>\n\
                 <button id=\"deny\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></p>\n\
                 </form>",
                client = esc(client),
                pending = esc(pending),
            )
        })
    }

    pub(crate) fn org_page(&self, pending: &str, client: &str, orgs: &[Org]) -> Response {
        let options: String = orgs
            .iter()
            .map(|o| {
                let label = o.display_name.as_deref().unwrap_or(&o.name);
                format!(
                    "<p><button name=\"org\" value=\"{id}\" id=\"org-{name}\" type=\"submit\">{label}</button></p>\n",
                    id = o.id.0,
                    name = esc(&o.name),
                    label = esc(label),
                )
            })
            .collect();
        let redirect_to = self.provider.open_pending(pending).map(|r| r.redirect_uri);
        self.form_page("Choose an org", redirect_to.as_deref(), |csrf| {
            format!(
                "<p>Which org do you want to use with <strong id=\"client\">{client}</strong>?</p>\n\
                 <form method=\"post\" action=\"{DECIDE_PATH}\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <input type=\"hidden\" name=\"r\" value=\"{pending}\">\n{options}</form>",
                client = esc(client),
                pending = esc(pending),
            )
        })
    }

    /// Sign-out confirmation; the request's parameters ride along to be checked again.
    /// `redirect_to` is the validated `post_logout_redirect_uri`, if any.
    pub(crate) fn logout_confirm_page(
        &self,
        client: Option<&str>,
        redirect_to: Option<&str>,
        hidden: &[(&str, Option<&str>)],
    ) -> Response {
        let fields: String = hidden
            .iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                    esc(k),
                    esc(v)
                )
            })
            .collect();
        let from = client
            .map(|c| format!(" from <strong id=\"client\">{}</strong>", esc(c)))
            .unwrap_or_default();
        self.form_page("Sign out?", redirect_to, |csrf| {
            format!(
                "<p>Sign out of Portcullis{from}? You will be signed out of every application \
                 that uses this sign-in.</p>\n\
                 <form method=\"post\" action=\"{LOGOUT_PATH}\">\n\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <input type=\"hidden\" name=\"confirm\" value=\"yes\">\n{fields}\
                 <p><button id=\"sign-out\" type=\"submit\">Sign out</button></p>\n</form>"
            )
        })
    }
}

pub(crate) fn signed_out() -> Response {
    html::html(
        StatusCode::OK,
        "Signed out",
        "<p id=\"signed-out\">You are signed out. You can close this window.</p>",
    )
}

/// An error shown to the user, never sent to a redirect URI that could not be trusted.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p id=\"error\" role=\"alert\">{}</p>\n<p>Go back to the application and try again.</p>",
        esc(message)
    );
    html::html(status, "Sign-in request refused", &body)
}

/// A 303 to `location`, with the page headers (no caching, no referrer).
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            html::secure_headers(r.headers_mut());
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => error(StatusCode::BAD_REQUEST, "The return address is not valid."),
    }
}
