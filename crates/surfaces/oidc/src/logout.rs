//! The end-session endpoint (RP-Initiated Logout 1.0 §2, §3): GET or POST with `id_token_hint`,
//! `post_logout_redirect_uri`, `state`, `client_id`. Without a hint the user confirms on a page
//! whose form (CSRF cookie, same origin) comes back here as a POST with `confirm=yes`.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use portcullis_core::oidc::{EndSessionParams, EndSessionStep};
use portcullis_edge::Origin;
use portcullis_edge::html;

use super::form::Params;
use super::pages;
use super::*;

fn params_of(p: &Params) -> EndSessionParams {
    EndSessionParams {
        id_token_hint: p.owned("id_token_hint"),
        post_logout_redirect_uri: p.owned("post_logout_redirect_uri"),
        state: p.owned("state"),
        client_id: p.owned("client_id"),
    }
}

async fn end(
    o: &Oidc,
    p: Params,
    confirmed: bool,
    headers: &HeaderMap,
    origin: &Origin,
) -> Response {
    let params = params_of(&p);
    let browser = o.browser(headers).await;
    let step = o
        .provider
        .end_session(&params, browser.as_ref(), confirmed, &origin.audit)
        .await;
    let mut r = match step {
        Err(message) => return pages::error(&o.brand(), StatusCode::BAD_REQUEST, &message),
        Ok(EndSessionStep::Confirm { client_name }) => {
            return o
                .logout_confirm_page(
                    params.client_id.as_deref(),
                    client_name.as_deref(),
                    params.post_logout_redirect_uri.as_deref(),
                    &[
                        ("client_id", params.client_id.as_deref()),
                        (
                            "post_logout_redirect_uri",
                            params.post_logout_redirect_uri.as_deref(),
                        ),
                        ("state", params.state.as_deref()),
                    ],
                )
                .await;
        }
        Ok(EndSessionStep::Done {
            redirect: Some(url),
        }) => pages::redirect(&o.brand(), &url),
        Ok(EndSessionStep::Done { redirect: None }) => pages::signed_out(&o.brand()),
    };
    // The browser's sign-in is over: forget its cookie too.
    r.headers_mut().append(
        header::SET_COOKIE,
        html::set_cookie(&o.session_cookie(), "", 0, o.secure),
    );
    r
}

pub(crate) async fn get(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => end(&o, p, false, &headers, &origin).await,
        Err(e) => pages::error(&o.brand(), StatusCode::BAD_REQUEST, &e.description),
    }
}

pub(crate) async fn post(
    State(o): Ctx,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let p = match Params::from_body(&headers, body).await {
        Ok(p) => p,
        Err(e) => return pages::error(&o.brand(), StatusCode::BAD_REQUEST, &e.description),
    };
    // A POST is the confirmation form only when it says so and passes the CSRF checks; an RP's
    // own POST (with a hint) is handled like its GET.
    let confirmed = p.get("confirm") == Some("yes");
    if confirmed && !o.form_is_genuine(&headers, &p) {
        return pages::error(
            &o.brand(),
            StatusCode::FORBIDDEN,
            "The form expired. Try signing out again.",
        );
    }
    end(&o, p, confirmed, &headers, &origin).await
}
