//! The provider's pages: consent, org choice, sign-out confirmation, signed out, and errors that
//! must not be redirected. Every form carries the pending request and a CSRF token that is also
//! an HttpOnly SameSite cookie; every value is escaped; the edge's strict headers apply.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use portcullis_core::branding::Brand;
use portcullis_core::crypto;
use portcullis_core::model::Org;
use portcullis_edge::html::{self, esc};
use portcullis_edge::page_layout::{AlertKind, Layout, alert, csrf_input, render};

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

/// The scopes as list items, in words, each with its scope's id.
pub(crate) fn scope_items(scopes: &[String]) -> String {
    scopes
        .iter()
        .map(|s| {
            format!(
                "<li id=\"scope-{id}\">{}</li>\n",
                esc(scope_text(s)),
                id = esc(s)
            )
        })
        .collect()
}

impl Oidc {
    /// The default brand: for pages that belong to no known application.
    pub(crate) fn brand(&self) -> Brand {
        self.provider.engine().default_brand()
    }

    /// The brand of the application a pending request (or a client id) is for.
    pub(crate) async fn brand_of_client(&self, client_id: Option<&str>) -> Brand {
        match client_id {
            Some(c) => self.provider.engine().brand_of_client(c).await,
            None => self.brand(),
        }
    }

    /// A page with a fresh CSRF token in the form and in its cookie. `redirect_to`: where the
    /// form's answer may redirect the browser (the client), named in the page's CSP.
    pub(crate) fn form_page(
        &self,
        brand: &Brand,
        title: &str,
        redirect_to: Option<&str>,
        body: impl FnOnce(&str) -> String,
    ) -> Response {
        let csrf = crypto::random_token(32);
        let mut r = render(
            StatusCode::OK,
            &Layout::card(brand, title),
            &body(&csrf_input(&csrf)),
        );
        if let Some(target) = redirect_to {
            html::allow_form_redirect_to(r.headers_mut(), target);
        }
        r.headers_mut().append(
            header::SET_COOKIE,
            html::set_cookie(&self.csrf_cookie(), &csrf, CSRF_TTL_SECS, self.secure),
        );
        r
    }

    pub(crate) async fn consent_page(
        &self,
        pending: &str,
        client: &str,
        scopes: &[String],
    ) -> Response {
        let items = scope_items(scopes);
        let req = self.provider.open_pending(pending);
        let brand = self
            .brand_of_client(req.as_ref().map(|r| r.client_id.as_str()))
            .await;
        let redirect_to = req.map(|r| r.redirect_uri);
        self.form_page(&brand, "Allow access?", redirect_to.as_deref(), |csrf| {
            format!(
                "<p><strong id=\"client\">{client}</strong> asks to:</p>\n<ul class=\"scopes\">\n{items}</ul>\n\
                 <p class=\"muted\">You can take this back at any time under Connected apps in \
                 <a href=\"/account/apps\">your account</a>.</p>\n\
                 <form method=\"post\" action=\"{DECIDE_PATH}\">\n{csrf}\
                 <input type=\"hidden\" name=\"r\" value=\"{pending}\">\n\
                 <div class=\"actions\"><button id=\"allow\" name=\"decision\" value=\"allow\" type=\"submit\">Allow</button>\n\
                 <button id=\"deny\" class=\"secondary\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></div>\n\
                 </form>",
                client = esc(client),
                pending = esc(pending),
            )
        })
    }

    pub(crate) async fn org_page(&self, pending: &str, client: &str, orgs: &[Org]) -> Response {
        let options: String = orgs
            .iter()
            .map(|o| {
                let label = o.display_name.as_deref().unwrap_or(&o.name);
                format!(
                    "<button class=\"secondary\" name=\"org\" value=\"{id}\" id=\"org-{name}\" type=\"submit\">{label}</button>\n",
                    id = o.id.0,
                    name = esc(&o.name),
                    label = esc(label),
                )
            })
            .collect();
        let req = self.provider.open_pending(pending);
        let brand = self
            .brand_of_client(req.as_ref().map(|r| r.client_id.as_str()))
            .await;
        let redirect_to = req.map(|r| r.redirect_uri);
        self.form_page(&brand, "Choose an org", redirect_to.as_deref(), |csrf| {
            format!(
                "<p>Which org do you want to use with <strong id=\"client\">{client}</strong>?</p>\n\
                 <form class=\"org-choice\" method=\"post\" action=\"{DECIDE_PATH}\">\n{csrf}\
                 <input type=\"hidden\" name=\"r\" value=\"{pending}\">\n{options}</form>",
                client = esc(client),
                pending = esc(pending),
            )
        })
    }

    /// Sign-out confirmation; the request's parameters ride along to be checked again.
    /// `redirect_to` is the validated `post_logout_redirect_uri`, if any.
    pub(crate) async fn logout_confirm_page(
        &self,
        client_id: Option<&str>,
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
        let brand = self.brand_of_client(client_id).await;
        self.form_page(&brand, "Sign out?", redirect_to, |csrf| {
            format!(
                "<p>Sign out of {product}{from}? You will be signed out of every application \
                 that uses this sign-in.</p>\n\
                 <form method=\"post\" action=\"{LOGOUT_PATH}\">\n{csrf}\
                 <input type=\"hidden\" name=\"confirm\" value=\"yes\">\n{fields}\
                 <div class=\"actions stack\"><button id=\"sign-out\" type=\"submit\">Sign out</button></div>\n</form>",
                product = esc(&brand.name),
            )
        })
    }
}

pub(crate) fn signed_out(brand: &Brand) -> Response {
    render(
        StatusCode::OK,
        &Layout::card(brand, "Signed out"),
        "<p id=\"signed-out\" role=\"status\">You are signed out. You can close this window.</p>\n\
         <p><a href=\"/login?r=/account\">Sign in again</a></p>",
    )
}

/// An error shown to the user, never sent to a redirect URI that could not be trusted.
pub(crate) fn error(brand: &Brand, status: StatusCode, message: &str) -> Response {
    let body = format!(
        "{}<p>Go back to the application and try again.</p>",
        alert(AlertKind::Error, "error", message)
    );
    render(
        status,
        &Layout::card(brand, "Sign-in request refused"),
        &body,
    )
}

/// A 303 to `location`, with the page headers (no caching, no referrer).
pub(crate) fn redirect(brand: &Brand, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            html::secure_headers(r.headers_mut());
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => error(
            brand,
            StatusCode::BAD_REQUEST,
            "The return address is not valid.",
        ),
    }
}
