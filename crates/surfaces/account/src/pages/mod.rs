//! The account pages (docs/design/pages.md): `/account` (sessions), `/account/apps` (connected
//! apps), `/account/password`, `/account/security` (sign-in factors), server-rendered with no
//! script (only the pages with a passkey form load `/assets/webauthn.js`), over the same engine
//! calls as the JSON API under `/account/v1`.
//!
//! * Who: the browser sign-in, from the HttpOnly session cookie the sign-in page sets
//!   (`html::SESSION_COOKIE`). Without a valid one, a 303 to `/login?r=<this page>`, which
//!   comes back here after the sign-in.
//! * Every change is a POST form with a double-submit CSRF token (an HttpOnly SameSite cookie
//!   equal to a hidden field, compared in constant time) and, when the browser sends one, an
//!   `Origin` of this server; then a 303 back to the page (post/redirect/get).
//!
//! Adding a page: a module with its GET (and POST) handlers rendering through
//! [`AccountPages::page`] (or, for a list of things each with a button, a [`list::ListPage`]),
//! its routes in [`router`], and an entry in [`SECTIONS`] for the navigation
//! (docs/design/pages.md).

mod apps;
mod list;
mod passkeys;
mod password;
mod reauth;
mod security;
mod sessions;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::CoreError;
use portcullis_core::branding::Brand;
use portcullis_core::crypto;
use portcullis_core::engine::Engine;
use portcullis_core::tokens::Principal;
use portcullis_edge::html::{self, SESSION_COOKIE, cookie, cookie_name, origin_of, same_origin};
use portcullis_edge::page_layout::{AlertKind, Layout, PageScript, alert, nav, render};

const CSRF_COOKIE: &str = "portcullis-account-csrf";
const CSRF_TTL_SECS: i64 = 3600;
/// A CSRF token as this surface makes them (32 random bytes, base64url).
const CSRF_LEN: usize = 43;

/// One page of the account area, as the navigation shows it.
pub(crate) struct Section {
    pub path: &'static str,
    pub label: &'static str,
}

/// The pages, in navigation order.
pub(crate) const SECTIONS: &[Section] = &[
    Section {
        path: sessions::PATH,
        label: "Sessions",
    },
    Section {
        path: apps::PATH,
        label: "Connected apps",
    },
    Section {
        path: password::PATH,
        label: "Password",
    },
    Section {
        path: security::PATH,
        label: "Security",
    },
];

/// Where "Sign out" goes: the OpenID provider's end-session page, which asks first.
const SIGN_OUT_PATH: &str = "/oauth2/logout";

pub(crate) struct AccountPages {
    engine: Arc<Engine>,
    /// Cookies get `Secure` and the `__Host-` prefix when the public URL is HTTPS.
    secure: bool,
    /// `scheme://host[:port]` of `core.public_url`, for the forms' `Origin` check.
    public_origin: String,
}

pub(crate) type Ctx = axum::extract::State<Arc<AccountPages>>;

/// The signed-in visitor of a page.
pub(crate) struct Visitor {
    pub principal: Principal,
    pub brand: Brand,
    /// The CSRF token of this browser (reused while its cookie lives, so several tabs work).
    pub csrf: String,
}

/// The pages, state applied.
pub(crate) fn router(engine: Arc<Engine>) -> Router {
    let public = engine.config().public_url.trim_end_matches('/').to_owned();
    let pages = AccountPages {
        public_origin: origin_of(&public).to_owned(),
        secure: public.starts_with("https://"),
        engine,
    };
    Router::new()
        .route(sessions::PATH, get(list::get::<sessions::Sessions>))
        .route(sessions::END_PATH, post(sessions::end))
        .route(sessions::END_OTHERS_PATH, post(sessions::end_others))
        .route(apps::PATH, get(list::get::<apps::Apps>))
        .route(apps::REVOKE_PATH, post(apps::revoke))
        .route(password::PATH, get(password::page).post(password::change))
        .route(security::PATH, get(security::page))
        .route(security::TOTP_PATH, post(security::add_totp))
        .route(security::CONFIRM_PATH, post(security::confirm_totp))
        .route(security::CODES_PATH, post(security::regenerate))
        .route(security::REMOVE_PATH, post(security::remove))
        .route(reauth::REAUTH_PATH, post(reauth::submit))
        .route(passkeys::ADD_PATH, post(passkeys::add))
        .route(passkeys::CONFIRM_PATH, post(passkeys::confirm))
        .with_state(Arc::new(pages))
}

/// What a form handler found before doing anything.
pub(crate) enum Checked {
    Visitor(Visitor),
    /// Answer this instead (sign-in redirect, expired form).
    Answer(Response),
}

/// A posted form's fields (an unreadable body has none, so its CSRF check fails).
pub(crate) type Fields = Result<Form<BTreeMap<String, String>>, FormRejection>;

/// A form that names one thing (a session, an application), after its checks.
pub(crate) enum Posted {
    Item(Visitor, String),
    /// The field is empty or longer than any such id.
    Missing(Visitor),
    Answer(Response),
}

impl AccountPages {
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The visitor of a GET, or the redirect to the sign-in page that comes back to `here`.
    pub(crate) async fn visitor(
        &self,
        headers: &HeaderMap,
        here: &str,
    ) -> Result<Visitor, Response> {
        let token = cookie(headers, &cookie_name(SESSION_COOKIE, self.secure));
        let principal = match token {
            Some(t) => self.engine.authenticate(&t).await.ok(),
            None => None,
        };
        // A machine's credential never reaches these pages; only a browser sign-in does.
        let Some(principal) =
            principal.filter(|p| !p.is_credential_based() && p.session().is_some())
        else {
            return Err(sign_in_redirect(here));
        };
        let brand = self.engine.brand_of_org(principal.org).await;
        let csrf = cookie(headers, &self.csrf_cookie())
            .filter(|c| {
                c.len() == CSRF_LEN
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .unwrap_or_else(|| crypto::random_token(32));
        Ok(Visitor {
            principal,
            brand,
            csrf,
        })
    }

    /// The visitor of a form post: signed in, the CSRF field equal to its cookie, and the
    /// `Origin` (when sent) this server's. `here` is where a fresh form is.
    pub(crate) async fn form_visitor(
        &self,
        headers: &HeaderMap,
        csrf: &str,
        here: &str,
    ) -> Checked {
        let visitor = match self.visitor(headers, here).await {
            Ok(v) => v,
            Err(r) => return Checked::Answer(r),
        };
        let cookie = cookie(headers, &self.csrf_cookie()).unwrap_or_default();
        if csrf.is_empty()
            || !crypto::constant_time_eq(cookie.as_bytes(), csrf.as_bytes())
            || !same_origin(headers, &self.public_origin)
        {
            let body = format!(
                "{}<p><a href=\"{}\">Back to the page</a></p>",
                alert(
                    AlertKind::Error,
                    "error",
                    "The form expired or did not come from this site. Nothing was changed; please try again."
                ),
                html::esc(here),
            );
            return Checked::Answer(self.page(
                StatusCode::FORBIDDEN,
                &visitor,
                here,
                "Form expired",
                &body,
            ));
        }
        Checked::Visitor(visitor)
    }

    /// The checked visitor of a form naming one thing in `field` (at most `max` bytes).
    pub(crate) async fn posted_item(
        &self,
        headers: &HeaderMap,
        form: Fields,
        field: &str,
        max: usize,
        here: &str,
    ) -> Posted {
        let mut fields = form.map(|Form(f)| f).unwrap_or_default();
        let csrf = fields.remove("csrf").unwrap_or_default();
        let visitor = match self.form_visitor(headers, &csrf, here).await {
            Checked::Visitor(v) => v,
            Checked::Answer(r) => return Posted::Answer(r),
        };
        match fields.remove(field) {
            Some(v) if !v.is_empty() && v.len() <= max => Posted::Item(visitor, v),
            _ => Posted::Missing(visitor),
        }
    }

    fn csrf_cookie(&self) -> String {
        cookie_name(CSRF_COOKIE, self.secure)
    }

    /// A page of the account area: the layout with the navigation (`here` marked), and the
    /// visitor's CSRF cookie (re)set.
    pub(crate) fn page(
        &self,
        status: StatusCode,
        visitor: &Visitor,
        here: &str,
        title: &str,
        body: &str,
    ) -> Response {
        self.page_with(status, visitor, (here, title), body, PageScript::None)
    }

    /// [`AccountPages::page`] with a passkey form: the page loads the passkey script.
    pub(crate) fn passkey_page(
        &self,
        status: StatusCode,
        visitor: &Visitor,
        here: &str,
        title: &str,
        body: &str,
    ) -> Response {
        self.page_with(status, visitor, (here, title), body, PageScript::WebAuthn)
    }

    fn page_with(
        &self,
        status: StatusCode,
        visitor: &Visitor,
        (here, title): (&str, &str),
        body: &str,
        script: PageScript,
    ) -> Response {
        let mut items: Vec<(&str, &str)> = SECTIONS.iter().map(|s| (s.path, s.label)).collect();
        items.push((SIGN_OUT_PATH, "Sign out"));
        let nav = nav("Account", &items, here);
        let layout = Layout {
            brand: &visitor.brand,
            title,
            nav: &nav,
            sections: true,
            script,
        };
        let mut r = render(status, &layout, body);
        r.headers_mut().append(
            header::SET_COOKIE,
            html::set_cookie(
                &self.csrf_cookie(),
                &visitor.csrf,
                CSRF_TTL_SECS,
                self.secure,
            ),
        );
        r
    }
}

/// 303 to the sign-in page, which comes back to `here` (a fixed path of this surface).
fn sign_in_redirect(here: &str) -> Response {
    see_other(&format!("/login?r={here}"))
}

/// A 303 with the page headers.
pub(crate) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    html::secure_headers(r.headers_mut());
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A core refusal as a page message and status (never internals).
pub(crate) fn refusal(e: &CoreError) -> (StatusCode, String) {
    match e {
        CoreError::PermissionDenied(why) if why.contains("reset") => (
            StatusCode::FORBIDDEN,
            "Your administrator asked for a password reset: use the one-time code they gave you."
                .into(),
        ),
        CoreError::PermissionDenied(_) | CoreError::CredentialNotAllowed(_) => (
            StatusCode::FORBIDDEN,
            "This session cannot change the account (an administrator is acting as you).".into(),
        ),
        CoreError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "That no longer exists; the list below is up to date.".into(),
        ),
        CoreError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Wait a minute and try again.".into(),
        ),
        CoreError::InvalidArgument(m) => (StatusCode::BAD_REQUEST, sentence(m)),
        other => {
            tracing::error!(error = %other, "account page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again later.".into(),
            )
        }
    }
}

/// `Retry-After` for a rate-limited answer.
pub(crate) fn retry_after(r: &mut Response, e: &CoreError) {
    if let CoreError::RateLimited { retry_after } = e
        && let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// A core message ("the password must …") as a sentence.
pub(crate) fn sentence(m: &str) -> String {
    let mut c = m.chars();
    match c.next() {
        Some(first) => {
            let mut s: String = first.to_uppercase().chain(c).collect();
            if !s.ends_with('.') {
                s.push('.');
            }
            s
        }
        None => String::new(),
    }
}

/// A time as people read it.
pub(crate) fn when(t: &portcullis_core::model::Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The message of a `?done=` key after a change, for the page to confirm it.
pub(crate) fn done_message(q: Option<&str>) -> Option<&'static str> {
    let key = q?.split('&').find_map(|kv| kv.strip_prefix("done="))?;
    Some(match key {
        "session-ended" => "The session was ended.",
        "others-ended" => "Your other sessions were ended.",
        "app-revoked" => "The application's access was removed.",
        "password-changed" => "Your password was changed.",
        "factor-added" => "The authenticator app was added.",
        "factor-removed" => "The factor was removed.",
        "passkey-added" => "The passkey was added.",
        _ => return None,
    })
}
