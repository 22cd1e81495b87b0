//! The device flow's endpoints (RFC 8628): `POST /oauth2/device_authorization` for the device,
//! and the pages a person answers it on. A browser without a sign-in goes to `/login?r=` with
//! the confirmation page as the path to come back to, as the account pages do, so password,
//! second factor and upstream sign-in all work unchanged. The core decides everything.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use portcullis_core::model::OrgId;
use portcullis_core::oidc::{
    DeviceDecisionError, OAuthError, UserCodeError, display_user_code, normalise_user_code,
};
use portcullis_edge::Origin;
use portcullis_edge::html;
use serde_json::json;

use super::device_pages::{self, EntryError};
use super::form::Params;
use super::pages;
use super::token::{authenticated, json_response, oauth_error};
use super::*;

/// RFC 8628 §3.1–§3.2: the client authenticates as at the token endpoint.
pub(crate) async fn device_authorization(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Each request stores a row: the per-IP limit of the credential endpoints applies.
    if let Err(e) = o.provider.engine().check_ip_rate(origin.ip) {
        return oauth_error(&OAuthError::from(e), false);
    }
    let (client, p) =
        match authenticated(&o, &headers, body, DEVICE_AUTHORIZATION_PATH, &origin).await {
            Ok(found) => found,
            Err(r) => return r,
        };
    match o
        .provider
        .device_authorization(&client, p.get("scope"), &origin.audit)
        .await
    {
        Ok(d) => json_response(
            StatusCode::OK,
            &json!({
                "device_code": d.device_code,
                "user_code": d.user_code,
                "verification_uri": d.verification_uri,
                "verification_uri_complete": d.verification_uri_complete,
                "expires_in": d.expires_in,
                "interval": d.interval,
            }),
        ),
        Err(e) => oauth_error(&e, false),
    }
}

fn query(raw: Option<String>) -> Params {
    Params::parse(raw.unwrap_or_default().as_bytes()).unwrap_or_default()
}

fn with_retry_after(mut r: Response, wait: Duration) -> Response {
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    r
}

/// `GET /device[?user_code=…]`: the code form, filled in only with a well-formed code.
pub(crate) async fn entry(State(o): Ctx, RawQuery(raw): RawQuery) -> Response {
    let prefill = query(raw)
        .get("user_code")
        .and_then(normalise_user_code)
        .map(|c| display_user_code(&c))
        .unwrap_or_default();
    o.device_entry_page(StatusCode::OK, &prefill, None)
}

/// `POST /device`: the typed code; the confirmation page (through the sign-in) when it is a
/// pending request's.
pub(crate) async fn entry_submit(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let p = match Params::from_body(&headers, body).await {
        Ok(p) => p,
        Err(e) => {
            let error = EntryError::Form(&e.description);
            return o.device_entry_page(StatusCode::BAD_REQUEST, "", Some(error));
        }
    };
    let typed: String = p
        .get("user_code")
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    if !o.form_is_genuine(&headers, &p) {
        let error = EntryError::Form("The form expired. Enter the code again.");
        return o.device_entry_page(StatusCode::FORBIDDEN, &typed, Some(error));
    }
    if let Err(e) = o.provider.engine().check_ip_rate(origin.ip) {
        let error = EntryError::Form("Too many attempts. Wait a moment and try again.");
        let r = o.device_entry_page(StatusCode::TOO_MANY_REQUESTS, &typed, Some(error));
        return match e {
            portcullis_core::CoreError::RateLimited { retry_after } => {
                with_retry_after(r, retry_after)
            }
            _ => r,
        };
    }
    match o.provider.enter_user_code(&typed, origin.ip).await {
        Ok(ticket) => pages::redirect(&o.brand(), &format!("{DEVICE_CONFIRM_PATH}?t={ticket}")),
        Err(UserCodeError::Malformed) => o.device_entry_page(
            StatusCode::BAD_REQUEST,
            &typed,
            Some(EntryError::Field(
                "Enter the 8 letters your device shows, for example BCDF-GHJK.",
            )),
        ),
        Err(UserCodeError::NotFound) => o.device_entry_page(
            StatusCode::BAD_REQUEST,
            &typed,
            Some(EntryError::Field(
                "This code is not valid or has expired. Check the code on your device.",
            )),
        ),
        Err(UserCodeError::RateLimited { retry_after }) => with_retry_after(
            o.device_entry_page(
                StatusCode::TOO_MANY_REQUESTS,
                &typed,
                Some(EntryError::Form(
                    "Too many wrong codes. Wait a few minutes and try again.",
                )),
            ),
            retry_after,
        ),
        Err(UserCodeError::Failed(e)) => o.device_entry_page(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &typed,
            Some(EntryError::Form(
                "The code could not be checked. Try again in a moment.",
            )),
        ),
    }
}

impl Oidc {
    /// Off to the sign-in page, which comes back to this confirmation page.
    fn sign_in_first(&self, ticket: &str) -> Response {
        let back = format!("{DEVICE_CONFIRM_PATH}?t={ticket}");
        let mut url = format!("{SIGN_IN_PATH}?r=");
        url.extend(form_urlencoded::byte_serialize(back.as_bytes()));
        pages::redirect(&self.brand(), &url)
    }

    /// A confirmation that cannot go on, as a page.
    fn device_refusal(&self, e: DeviceDecisionError) -> Response {
        let brand = self.brand();
        match e {
            DeviceDecisionError::Gone => device_pages::refused(
                &brand,
                StatusCode::BAD_REQUEST,
                "Code no longer valid",
                "This code has expired or was already used. Start again on your device.",
            ),
            DeviceDecisionError::ChooseOrg => device_pages::refused(
                &brand,
                StatusCode::BAD_REQUEST,
                "Choose an org",
                "Choose one of the orgs.",
            ),
            DeviceDecisionError::Refused(e) => device_pages::refused(
                &brand,
                StatusCode::from_u16(e.status().max(403)).unwrap_or(StatusCode::FORBIDDEN),
                "Sign-in refused",
                &format!("You cannot sign in to this application: {}.", e.description),
            ),
        }
    }

    async fn confirmation(
        &self,
        ticket: &str,
        browser: &BrowserSignIn,
        error: Option<&str>,
    ) -> Response {
        match self.provider.device_confirmation(ticket, browser).await {
            Ok(view) => {
                let mut r = self.device_confirm_page(ticket, &view, error).await;
                if error.is_some() {
                    *r.status_mut() = StatusCode::BAD_REQUEST;
                }
                r
            }
            Err(e) => self.device_refusal(e),
        }
    }
}

/// `GET /device/confirm?t=`: the confirmation, after the sign-in.
pub(crate) async fn confirm(
    State(o): Ctx,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = query(raw);
    let ticket = p.get("t").unwrap_or_default();
    match o.browser(&headers).await {
        None => o.sign_in_first(ticket),
        Some(b) => o.confirmation(ticket, &b, None).await,
    }
}

/// `POST /device/confirm`: Allow (with an org when asked) or Deny.
pub(crate) async fn confirm_submit(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let p = match Params::from_body(&headers, body).await {
        Ok(p) => p,
        Err(e) => return pages::error(&o.brand(), StatusCode::BAD_REQUEST, &e.description),
    };
    let ticket = p.get("t").unwrap_or_default();
    if !o.form_is_genuine(&headers, &p) {
        return device_pages::refused(
            &o.brand(),
            StatusCode::FORBIDDEN,
            "Form expired",
            "The form expired. Enter the code again.",
        );
    }
    let Some(browser) = o.browser(&headers).await else {
        return o.sign_in_first(ticket);
    };
    let (approved, org) = match (p.get("decision"), p.get("org")) {
        (Some("deny"), None) => (false, None),
        (Some("allow"), None) => (true, None),
        (None, Some(org)) => match org.parse() {
            Ok(id) => (true, Some(OrgId(id))),
            Err(_) => {
                return o
                    .confirmation(ticket, &browser, Some("Choose one of the orgs."))
                    .await;
            }
        },
        _ => {
            return o
                .confirmation(ticket, &browser, Some("Choose Allow or Deny."))
                .await;
        }
    };
    match o
        .provider
        .decide_device(ticket, approved, org, &browser, &origin.audit)
        .await
    {
        Ok(()) => {
            let result = if approved { "approved" } else { "denied" };
            let mut r = pages::redirect(&o.brand(), &format!("{DEVICE_DONE_PATH}?result={result}"));
            // The form is used up.
            r.headers_mut().append(
                header::SET_COOKIE,
                html::set_cookie(&o.csrf_cookie(), "", 0, o.secure),
            );
            r
        }
        Err(DeviceDecisionError::ChooseOrg) => {
            o.confirmation(ticket, &browser, Some("Choose one of the orgs."))
                .await
        }
        Err(e) => o.device_refusal(e),
    }
}

/// `GET /device/done?result=approved|denied`: a fixed page (reloading it changes nothing).
pub(crate) async fn done(State(o): Ctx, RawQuery(raw): RawQuery) -> Response {
    let approved = query(raw).get("result") == Some("approved");
    device_pages::done(&o.brand(), approved)
}
