//! The authorization endpoint and its pages' forms: wire to [`Provider::authorize`] and the
//! step it decides to a redirect or a page.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use portcullis_core::model::OrgId;
use portcullis_core::oidc::{AuthorizeError, AuthorizeParams, AuthorizeStep, OAuthError};
use portcullis_edge::Origin;
use portcullis_edge::html;

use super::form::Params;
use super::pages;
use super::*;

pub(crate) fn params_of(p: Params) -> AuthorizeParams {
    let mut m = p.into_map();
    let mut take = |k: &str| m.remove(k);
    AuthorizeParams {
        client_id: take("client_id"),
        redirect_uri: take("redirect_uri"),
        response_type: take("response_type"),
        response_mode: take("response_mode"),
        scope: take("scope"),
        state: take("state"),
        nonce: take("nonce"),
        code_challenge: take("code_challenge"),
        code_challenge_method: take("code_challenge_method"),
        prompt: take("prompt"),
        max_age: take("max_age"),
        login_hint: take("login_hint"),
        ui_locales: take("ui_locales"),
        acr_values: take("acr_values"),
        request: take("request"),
        request_uri: take("request_uri"),
    }
}

impl Oidc {
    /// The step as the browser's next response.
    async fn step(&self, step: Result<AuthorizeStep, AuthorizeError>) -> Response {
        let brand = self.brand();
        match step {
            Ok(AuthorizeStep::Redirect(url)) => pages::redirect(&brand, &url),
            Ok(AuthorizeStep::SignIn {
                pending,
                login_hint,
            }) => {
                let mut url = format!("{SIGN_IN_PATH}?r={pending}");
                if let Some(hint) = login_hint {
                    url.push_str("&email=");
                    url.extend(form_urlencoded::byte_serialize(hint.as_bytes()));
                }
                pages::redirect(&brand, &url)
            }
            Ok(AuthorizeStep::Consent {
                pending,
                client_name,
                scopes,
            }) => self.consent_page(&pending, &client_name, &scopes).await,
            Ok(AuthorizeStep::ChooseOrg {
                pending,
                client_name,
                orgs,
            }) => self.org_page(&pending, &client_name, &orgs).await,
            Err(AuthorizeError::Page(message)) => {
                pages::error(&brand, StatusCode::BAD_REQUEST, &message)
            }
            Err(AuthorizeError::Redirect {
                redirect_uri,
                error,
                state,
            }) => pages::redirect(
                &brand,
                &self
                    .provider
                    .error_redirect(&redirect_uri, &error, state.as_deref()),
            ),
        }
    }

    async fn authorize(&self, p: Params, headers: &HeaderMap, origin: &Origin) -> Response {
        let browser = self.browser(headers).await;
        let step = self
            .provider
            .authorize(&params_of(p), browser.as_ref(), &origin.audit)
            .await;
        self.step(step).await
    }
}

fn refused(o: &Oidc, e: OAuthError) -> Response {
    pages::error(&o.brand(), StatusCode::BAD_REQUEST, &e.description)
}

pub(crate) async fn get(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => o.authorize(p, &headers, &origin).await,
        Err(e) => refused(&o, e),
    }
}

pub(crate) async fn post(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match Params::from_body(&headers, body).await {
        Ok(p) => o.authorize(p, &headers, &origin).await,
        Err(e) => refused(&o, e),
    }
}

/// Back from the sign-in page.
pub(crate) async fn resume(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let p = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return refused(&o, e),
    };
    let pending = p.get("r").unwrap_or_default();
    let browser = o.browser(&headers).await;
    let step = o
        .provider
        .resume(pending, browser.as_ref(), &origin.audit)
        .await;
    o.step(step).await
}

/// The consent page's Allow / Deny and the org page's choice.
pub(crate) async fn decide(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let p = match Params::from_body(&headers, body).await {
        Ok(p) => p,
        Err(e) => return refused(&o, e),
    };
    if !o.form_is_genuine(&headers, &p) {
        return pages::error(
            &o.brand(),
            StatusCode::FORBIDDEN,
            "The form expired. Go back to the application and start again.",
        );
    }
    let pending = p.get("r").unwrap_or_default();
    let browser = o.browser(&headers).await;
    let step = match (p.get("decision"), p.get("org")) {
        (Some(d @ ("allow" | "deny")), None) => {
            o.provider
                .decide_consent(pending, d == "allow", browser.as_ref(), &origin.audit)
                .await
        }
        (None, Some(org)) => match org.parse() {
            Ok(id) => {
                o.provider
                    .choose_org(pending, OrgId(id), browser.as_ref(), &origin.audit)
                    .await
            }
            Err(_) => {
                return pages::error(
                    &o.brand(),
                    StatusCode::BAD_REQUEST,
                    "Choose one of the orgs.",
                );
            }
        },
        _ => {
            return pages::error(
                &o.brand(),
                StatusCode::BAD_REQUEST,
                "The form is incomplete.",
            );
        }
    };
    let mut r = o.step(step).await;
    // The form is used up; a next page (org after consent) sets its own token instead.
    if r.status() == StatusCode::SEE_OTHER {
        r.headers_mut().append(
            http::header::SET_COOKIE,
            html::set_cookie(&o.csrf_cookie(), "", 0, o.secure),
        );
    }
    r
}
