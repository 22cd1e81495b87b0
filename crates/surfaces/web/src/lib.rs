//! The browser surface (docs/design/browser-sso.md): a password login page and browser SSO
//! (authorization code + PKCE + nonce + state) ending on a landing page that hands the new
//! Portcullis session token to the native client.
//!
//! * `GET /login`, `POST /login`: the password form (CSRF double-submit cookie), through the
//!   engine's password login: same per-IP limit, throttle, lockout and one answer for every
//!   failure as the APIs.
//! * `GET /login/sso/start?t=…`: the `webSSO.url` of Parsable `startLogin`; redeems the
//!   single-use start token and redirects to the provider, binding the flow to this browser
//!   with an HttpOnly cookie.
//! * `GET /login/sso/callback`: the redirect URI; checks state and binding, redeems the code
//!   (PKCE verifier, client authentication), verifies the ID token and its nonce, maps the
//!   identity with the federation rules and starts the session through the federation, which
//!   ends it with the upstream ID token plus the provider's cap.
//!
//! Flow state lives in the store (core `websso`), so any node can finish a flow. This crate only
//! maps HTTP to engine and federation calls and renders the answers.
#![forbid(unsafe_code)]

mod enrolment;
mod page;
mod passkeys;
mod second_factor;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::branding::Brand;
use portcullis_core::crypto;
use portcullis_core::engine::{Engine, LoginGrant, OrgChoice};
use portcullis_core::oidc::RequestSeal;
use portcullis_core::websso::SSO_FLOW_TTL_SECS;
use portcullis_core::{CoreError, audit::AuditContext};
use portcullis_edge::Origin;
use portcullis_edge::html::{
    MAX_PENDING_REQUEST, OIDC_RESUME_PATH, SESSION_COOKIE, origin_of, same_origin,
};
use portcullis_federation::{AuthorizationRequest, Federation, FederationError};
use serde::Deserialize;

use page::{Continues, FormError};

pub use page::CSP;
pub use return_path::safe_return_path;

mod return_path;

/// The path of the redirect URI, below `core.public_url`.
pub const CALLBACK_PATH: &str = "/login/sso/callback";
const CSRF_COOKIE: &str = "portcullis-csrf";
const SSO_COOKIE: &str = "portcullis-sso";
/// The pending OpenID authorization request a browser SSO sign-in continues when it returns.
const RETURN_COOKIE: &str = "portcullis-oidc-return";
const CSRF_TTL_SECS: i64 = 3600;
/// Inputs beyond these are refused before any work (an address is at most 320 bytes).
const MAX_EMAIL: usize = 320;
const MAX_PASSWORD: usize = 4096;

struct Web {
    engine: Arc<Engine>,
    federation: Option<Arc<Federation>>,
    /// `core.public_url` + [`CALLBACK_PATH`].
    redirect_uri: String,
    /// Cookies get `Secure` and the `__Host-` prefix when the public URL is HTTPS.
    secure: bool,
    /// `scheme://host[:port]` of `core.public_url`, for the form's `Origin` check.
    public_origin: String,
    /// Opens the OpenID provider's pending requests (to name their redirect origin in the CSP).
    pending_seal: RequestSeal,
}

type Ctx = State<Arc<Web>>;

/// The surface, state applied. Without a federation only the password pages work.
pub fn router(engine: Arc<Engine>, federation: Option<Arc<Federation>>) -> Router {
    let public = engine.config().public_url.trim_end_matches('/').to_owned();
    let web = Web {
        public_origin: origin_of(&public).to_owned(),
        secure: public.starts_with("https://"),
        redirect_uri: format!("{public}{CALLBACK_PATH}"),
        pending_seal: RequestSeal::of(&engine),
        engine,
        federation,
    };
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route(
            second_factor::SECOND_FACTOR_PATH,
            post(second_factor::second_factor_submit),
        )
        .route(second_factor::ENROL_PATH, post(enrolment::enrol_submit))
        .route(
            second_factor::CONTINUE_PATH,
            post(second_factor::continue_submit),
        )
        .route(passkeys::OPTIONS_PATH, post(passkeys::sign_in_options))
        .route(passkeys::FINISH_PATH, post(passkeys::sign_in_finish))
        .route("/login/sso/start", get(sso_start))
        .route(CALLBACK_PATH, get(sso_callback))
        .with_state(Arc::new(web))
}

impl Web {
    fn csrf_cookie(&self) -> String {
        page::cookie_name(CSRF_COOKIE, self.secure)
    }
    fn sso_cookie(&self) -> String {
        page::cookie_name(SSO_COOKIE, self.secure)
    }
    fn return_cookie(&self) -> String {
        page::cookie_name(RETURN_COOKIE, self.secure)
    }

    /// A sign-in that continues something (`pending`: an OpenID request or a page of this
    /// server) for an address whose domain signs in upstream: a start token, what it continues
    /// kept in an HttpOnly cookie for the return, and off to the provider.
    async fn upstream_sign_in(&self, email: &str, pending: &str) -> Option<Response> {
        let fed = self.federation.as_ref()?;
        let provider = fed.provider_for_email_domain(email)?;
        if !fed.browser_sso_enabled(&provider.alias) {
            return None;
        }
        let start = match self
            .engine
            .sso_start_token(&provider.alias, Some(email))
            .await
        {
            Ok(t) => t,
            Err(e) => return Some(failure_from_core(&self.engine.default_brand(), e)),
        };
        // Not a redirect: the provider is another site (see `page::continue_to`).
        let brand = self.brand_of_pending(pending).await;
        let mut r = page::continue_to(&brand, &format!("/login/sso/start?t={start}"));
        r.headers_mut().append(
            header::SET_COOKIE,
            page::set_cookie(
                &self.return_cookie(),
                pending,
                SSO_FLOW_TTL_SECS,
                self.secure,
            ),
        );
        Some(r)
    }
    /// The brand of the application a pending authorization is for, else the default.
    async fn brand_of_pending(&self, pending: &str) -> Brand {
        match self.pending_seal.open(pending, chrono::Utc::now()) {
            Some(req) => self.engine.brand_of_client(&req.client_id).await,
            None => self.engine.default_brand(),
        }
    }

    /// The form with a fresh CSRF token, set as a cookie too.
    async fn form(
        &self,
        status: StatusCode,
        email: &str,
        continues: Continues<'_>,
        error: Option<FormError<'_>>,
    ) -> Response {
        let csrf = crypto::random_token(32);
        let brand = self.brand_of(continues).await;
        let passkeys = self.engine.passkeys_available();
        let mut r = page::login_form(status, &brand, &csrf, email, continues, error, passkeys);
        self.protect_form(&mut r, &csrf, continues);
        r
    }

    /// The brand of what a page continues: the application's for an authorization.
    async fn brand_of(&self, continues: Continues<'_>) -> Brand {
        match continues {
            Continues::Authorization(p) => self.brand_of_pending(p).await,
            _ => self.engine.default_brand(),
        }
    }

    /// A page's forms: the CSRF token's cookie, and a CSP that lets a sign-in that continues an
    /// authorization end in a redirect to the application.
    fn protect_form(&self, r: &mut Response, csrf: &str, continues: Continues<'_>) {
        if let Continues::Authorization(p) = continues
            && let Some(req) = self.pending_seal.open(p, chrono::Utc::now())
        {
            page::allow_form_redirect_to(r.headers_mut(), &req.redirect_uri);
        }
        r.headers_mut().append(
            header::SET_COOKIE,
            page::set_cookie(&self.csrf_cookie(), csrf, CSRF_TTL_SECS, self.secure),
        );
    }
}

fn retry_after(r: &mut Response, e: &CoreError) {
    if let CoreError::RateLimited { retry_after } = e
        && let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// Core failures as pages. Credential failures are one message (no enumeration).
fn core_failure(e: &CoreError) -> (StatusCode, &'static str) {
    match e {
        CoreError::InvalidCredentials | CoreError::Unauthenticated => {
            (StatusCode::UNAUTHORIZED, "Invalid email or password.")
        }
        CoreError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Try again later.",
        ),
        CoreError::InvalidToken(_) | CoreError::TokenExpired => (
            StatusCode::BAD_REQUEST,
            "This sign-in link is invalid, already used or expired.",
        ),
        CoreError::NoMembership | CoreError::OrgDisabled | CoreError::PermissionDenied(_) => (
            StatusCode::FORBIDDEN,
            "This account cannot sign in to any team.",
        ),
        CoreError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "The request is not valid."),
        _ => {
            tracing::error!(error = %e, "browser sign-in failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in is unavailable. Try again later.",
            )
        }
    }
}

fn fed_failure(brand: &Brand, e: FederationError) -> Response {
    let (status, msg) = match &e {
        e if e.is_token_failure() => (
            StatusCode::BAD_REQUEST,
            "The identity provider's answer could not be verified.",
        ),
        FederationError::NoAccount(_) | FederationError::MissingClaims(_) => (
            StatusCode::FORBIDDEN,
            "No Portcullis account may sign in with this identity.",
        ),
        FederationError::NoMembership | FederationError::NotAuthorized(_) => (
            StatusCode::FORBIDDEN,
            "This account cannot sign in to any team.",
        ),
        FederationError::ProviderUnavailable(_) => (
            StatusCode::BAD_GATEWAY,
            "The identity provider is unavailable. Try again later.",
        ),
        FederationError::Core(c) => core_failure(c),
        _ => {
            tracing::error!(error = %e, "browser SSO failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in is unavailable. Try again later.",
            )
        }
    };
    tracing::info!(error = %e, "browser SSO refused");
    page::failure(brand, status, msg)
}

fn failure_from_core(brand: &Brand, e: CoreError) -> Response {
    let (status, msg) = core_failure(&e);
    let mut r = page::failure(brand, status, msg);
    retry_after(&mut r, &e);
    r
}

// ---- password login --------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginQuery {
    /// What to continue after the sign-in: a pending OpenID authorization request, or a
    /// relative path of this server (see [`safe_return_path`]).
    #[serde(default)]
    r: Option<String>,
    /// A hint (`login_hint`) to fill the email field with.
    #[serde(default)]
    email: Option<String>,
    /// A start token of the own browser sign-in (Parsable `startLogin`'s `webSSO.url`).
    #[serde(default)]
    t: Option<String>,
}

/// The pending request, when one of a sane size and of the seal's alphabet (base64url) was
/// given; anything else could only fail to open.
fn pending_of(r: Option<&str>) -> Option<&str> {
    r.filter(|r| {
        !r.is_empty()
            && r.len() <= MAX_PENDING_REQUEST
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// What `r` asks the sign-in to continue: a page of this server when it is a safe relative
/// path (a sealed request never starts with `/`), else a pending authorization request. An
/// unsafe path is dropped, never followed.
fn continues_of(r: Option<&str>) -> Continues<'_> {
    match r {
        Some(path) if path.starts_with('/') => match safe_return_path(path) {
            Some(p) => Continues::Page(p),
            None => Continues::Nothing,
        },
        r => pending_of(r).map_or(Continues::Nothing, Continues::Authorization),
    }
}

async fn login_page(
    State(web): Ctx,
    origin: Origin,
    q: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or(LoginQuery {
        r: None,
        email: None,
        t: None,
    });
    // A native client's hand-off: the start token is single use; the sign-in ends on the
    // landing page like the upstream hand-off's.
    let hint = match q.t.as_deref() {
        Some(t) => {
            if let Err(e) = web.engine.check_ip_rate(origin.ip) {
                return failure_from_core(&web.engine.default_brand(), e);
            }
            match web.engine.own_sign_in_begin(t, &origin.audit).await {
                Ok(hint) => hint,
                Err(e) => return failure_from_core(&web.engine.default_brand(), e),
            }
        }
        None => q.email,
    };
    let email = hint
        .as_deref()
        .filter(|e| e.len() <= MAX_EMAIL)
        .unwrap_or_default();
    // A native client's hand-off continues nothing but its own landing page.
    let continues = match q.t {
        Some(_) => Continues::Nothing,
        None => continues_of(q.r.as_deref()),
    };
    web.form(StatusCode::OK, email, continues, None).await
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    r: Option<String>,
}

/// After a sign-in that continues an OpenID authorization: the browser keeps the session in an
/// HttpOnly cookie for the provider, and goes back to the authorization request.
fn continue_authorization(web: &Web, pending: &str, grant: &LoginGrant) -> Response {
    let mut url = format!("{OIDC_RESUME_PATH}?r=");
    url.extend(url_safe(pending));
    continue_signed_in(web, &url, grant)
}

/// After a sign-in: the session in the HttpOnly browser-session cookie, and a 303 to `url` (a
/// path of this server).
fn continue_signed_in(web: &Web, url: &str, grant: &LoginGrant) -> Response {
    let Ok(location) = HeaderValue::from_str(url) else {
        return page::failure(
            &web.engine.default_brand(),
            StatusCode::BAD_REQUEST,
            "The sign-in request is not valid.",
        );
    };
    let mut r = StatusCode::SEE_OTHER.into_response();
    page::secure_headers(r.headers_mut());
    r.headers_mut().insert(header::LOCATION, location);
    set_session_cookie(web, &mut r, grant);
    r
}

/// The browser's Portcullis sign-in for the OpenID provider (HttpOnly, until the session ends).
fn set_session_cookie(web: &Web, r: &mut Response, grant: &LoginGrant) {
    let max_age = (grant.token.expires_at - chrono::Utc::now())
        .num_seconds()
        .max(0);
    r.headers_mut().append(
        header::SET_COOKIE,
        page::set_cookie(
            &page::cookie_name(SESSION_COOKIE, web.secure),
            &grant.token.token,
            max_age,
            web.secure,
        ),
    );
}

/// The pending request is base64url: anything else in it is dropped (and fails to open).
fn url_safe(v: &str) -> impl Iterator<Item = char> + '_ {
    v.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
}

async fn login_submit(
    State(web): Ctx,
    origin: Origin,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return web
            .form(
                StatusCode::BAD_REQUEST,
                "",
                Continues::Nothing,
                Some(FormError::Form(
                    "Send the form as application/x-www-form-urlencoded.",
                )),
            )
            .await;
    };
    let email = f.email.trim();
    let continues = continues_of(f.r.as_deref());
    // Double-submit: the form field must equal the HttpOnly SameSite cookie set with the form.
    let cookie = page::cookie(&headers, &web.csrf_cookie()).unwrap_or_default();
    if f.csrf.is_empty()
        || !crypto::constant_time_eq(cookie.as_bytes(), f.csrf.as_bytes())
        || !same_origin(&headers, &web.public_origin)
    {
        return web
            .form(
                StatusCode::FORBIDDEN,
                email,
                continues,
                Some(FormError::Form("The form expired. Please sign in again.")),
            )
            .await;
    }
    if let Err(e) = web.engine.check_ip_rate(origin.ip) {
        let (status, msg) = core_failure(&e);
        let mut r = web
            .form(status, email, continues, Some(FormError::Form(msg)))
            .await;
        retry_after(&mut r, &e);
        return r;
    }
    // With no password, an address whose domain signs in upstream goes there (and comes back
    // to what `r` continues).
    if let Some(pending) = continues.r()
        && f.password.is_empty()
        && email.len() <= MAX_EMAIL
        && let Some(r) = web.upstream_sign_in(email, pending).await
    {
        return r;
    }
    if email.is_empty() || email.len() > MAX_EMAIL || f.password.len() > MAX_PASSWORD {
        let error = if email.is_empty() || email.len() > MAX_EMAIL {
            FormError::Email("Enter your email address and password.")
        } else {
            FormError::Password("Enter your email address and password.")
        };
        return web
            .form(StatusCode::BAD_REQUEST, "", continues, Some(error))
            .await;
    }
    // An OpenID sign-in picks its org later (the client's, or the org page).
    let choice = match continues {
        Continues::Authorization(_) => OrgChoice::DefaultOrNone,
        _ => OrgChoice::Default,
    };
    // The password may be all, or the second step (or an enrolment) follows.
    match web
        .engine
        .sign_in_password(email, &f.password, choice, None, &origin.audit)
        .await
    {
        Ok(step) => second_factor::after_first_factor(&web, step, continues, &origin.audit).await,
        Err(e) => {
            let (status, msg) = core_failure(&e);
            let error = match e {
                CoreError::InvalidCredentials | CoreError::Unauthenticated => {
                    FormError::Password(msg)
                }
                _ => FormError::Form(msg),
            };
            let mut r = web.form(status, email, continues, Some(error)).await;
            retry_after(&mut r, &e);
            r
        }
    }
}

// ---- browser SSO -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct StartQuery {
    t: String,
}

async fn sso_start(
    State(web): Ctx,
    origin: Origin,
    q: Result<Query<StartQuery>, QueryRejection>,
) -> Response {
    let brand = web.engine.default_brand();
    if let Err(e) = web.engine.check_ip_rate(origin.ip) {
        return failure_from_core(&brand, e);
    }
    let Some(fed) = web.federation.as_ref() else {
        return page::failure(
            &brand,
            StatusCode::NOT_FOUND,
            "Browser sign-in is not configured.",
        );
    };
    let Ok(Query(q)) = q else {
        return failure_from_core(&brand, CoreError::InvalidToken("no start token"));
    };
    let begin = match web.engine.sso_begin(&q.t, &origin.audit).await {
        Ok(b) => b,
        Err(e) => return failure_from_core(&brand, e),
    };
    let url = match fed
        .authorization_url(
            &begin.provider,
            AuthorizationRequest {
                redirect_uri: &web.redirect_uri,
                state: &begin.state,
                nonce: &begin.nonce,
                pkce_verifier: &begin.pkce_verifier,
                login_hint: begin.login_hint.as_deref(),
            },
        )
        .await
    {
        Ok(u) => u,
        Err(e) => return fed_failure(&brand, e),
    };
    let Ok(location) = HeaderValue::from_str(&url) else {
        return page::failure(
            &brand,
            StatusCode::BAD_GATEWAY,
            "The identity provider is misconfigured.",
        );
    };
    let mut r = StatusCode::SEE_OTHER.into_response();
    page::secure_headers(r.headers_mut());
    r.headers_mut().insert(header::LOCATION, location);
    r.headers_mut().append(
        header::SET_COOKIE,
        page::set_cookie(
            &web.sso_cookie(),
            &begin.browser_binding,
            SSO_FLOW_TTL_SECS,
            web.secure,
        ),
    );
    r
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// The callback's query as the handler receives it (`code`, `state`, `error`), `None` when
/// axum refuses it; for the fuzz targets.
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub fn __callback_query(
    uri: &http::Uri,
) -> Option<(Option<String>, Option<String>, Option<String>)> {
    Query::<CallbackQuery>::try_from_uri(uri)
        .ok()
        .map(|Query(q)| (q.code, q.state, q.error))
}

async fn sso_callback(
    State(web): Ctx,
    origin: Origin,
    headers: HeaderMap,
    q: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let pending = page::cookie(&headers, &web.return_cookie());
    let mut r = callback(
        &web,
        &origin.audit,
        origin.ip,
        &headers,
        q,
        pending.as_deref(),
    )
    .await;
    if pending.is_some() {
        r.headers_mut().append(
            header::SET_COOKIE,
            page::set_cookie(&web.return_cookie(), "", 0, web.secure),
        );
    }
    // The binding cookie is single-use like the flow.
    r.headers_mut().append(
        header::SET_COOKIE,
        page::set_cookie(&web.sso_cookie(), "", 0, web.secure),
    );
    r
}

async fn callback(
    web: &Web,
    ctx: &AuditContext,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    q: Result<Query<CallbackQuery>, QueryRejection>,
    authorization: Option<&str>,
) -> Response {
    let brand = match pending_of(authorization) {
        Some(p) => web.brand_of_pending(p).await,
        None => web.engine.default_brand(),
    };
    let brand = &brand;
    if let Err(e) = web.engine.check_ip_rate(ip) {
        return failure_from_core(brand, e);
    }
    let Some(fed) = web.federation.as_ref() else {
        return page::failure(
            brand,
            StatusCode::NOT_FOUND,
            "Browser sign-in is not configured.",
        );
    };
    let Ok(Query(q)) = q else {
        return failure_from_core(brand, CoreError::InvalidToken("bad callback"));
    };
    let binding = page::cookie(headers, &web.sso_cookie());
    // The state is taken (single use) whatever the outcome.
    let pending = match web
        .engine
        .sso_complete(
            q.state.as_deref().unwrap_or_default(),
            binding.as_deref(),
            ctx,
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return failure_from_core(brand, e),
    };
    if let Some(err) = q.error.as_deref() {
        tracing::info!(provider = %pending.provider, error = %err, "the provider refused the sign-in");
        return page::failure(
            brand,
            StatusCode::FORBIDDEN,
            "The identity provider did not sign you in.",
        );
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return failure_from_core(brand, CoreError::InvalidToken("no code"));
    };
    let id = match fed
        .redeem_code(
            &pending.provider,
            code,
            &web.redirect_uri,
            &pending.pkce_verifier,
            &pending.nonce,
        )
        .await
    {
        Ok(id) => id,
        Err(e) => return fed_failure(brand, e),
    };
    let user = match fed.resolve_user(&id, ctx).await {
        Ok(u) => u,
        Err(e) => return fed_failure(brand, e),
    };
    let choice = match fed.parsable_choice(&id, &user, None).await {
        Ok(c) => c,
        Err(e) => return fed_failure(brand, e),
    };
    // The session ends with the upstream ID token plus the provider's cap; a policy that
    // wants a Portcullis factor on top of the upstream sign-in asks for it here.
    let not_after = match fed.session_not_after(&id) {
        Ok(t) => t,
        Err(e) => return fed_failure(brand, e),
    };
    // `fed`, plus `mfa` when the provider is trusted for it and its sign-in says so.
    let amr = match fed.session_amr(&id) {
        Ok(a) => a,
        Err(e) => return fed_failure(brand, e),
    };
    match web
        .engine
        .sign_in_verified(user, amr, choice, Some(not_after), ctx)
        .await
    {
        Ok(step) => {
            second_factor::after_first_factor(web, step, continues_of(authorization), ctx).await
        }
        Err(e) => failure_from_core(brand, e),
    }
}
