//! Portcullis' own self-service account API under `/account/v1` (docs/design/account-surface.md):
//! a signed-in user lists and ends their sessions, lists and revokes the consents they gave
//! OpenID clients, changes their password and manages second factors (TOTP, recovery codes; a
//! JSON sign-in that asks for the second factor); an account an
//! admin flagged for a password reset chooses a new password with the admin's one-time code.
//!
//! Callers authenticate with `Authorization: Bearer <access token>` (Parsable's `Token <t>` is
//! accepted too), from either API. Errors are RFC 9457 `application/problem+json`. The rules
//! live in the core engine; this crate only maps the wire to engine calls and back.
#![forbid(unsafe_code)]

mod factors;
mod handlers;
mod passkeys;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{delete, get, post};
use portcullis_core::engine::Engine;

pub use portcullis_edge::{Caller, JsonBody, PROBLEM_CONTENT_TYPE, Problem, finish};

/// The surface, state applied. No fallback: other paths stay with the server's 404.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/account/v1/sessions", get(handlers::list_sessions))
        .route(
            "/account/v1/sessions/current",
            get(handlers::current_session),
        )
        .route(
            "/account/v1/sessions/end-others",
            post(handlers::end_other_sessions),
        )
        .route("/account/v1/sessions/{id}", delete(handlers::end_session))
        .route("/account/v1/consents", get(handlers::list_consents))
        .route(
            "/account/v1/consents/{client}",
            delete(handlers::revoke_consent),
        )
        .route("/account/v1/password", post(handlers::change_password))
        .route("/account/v1/factors", get(factors::list))
        .route("/account/v1/factors/totp", post(factors::start_totp))
        .route(
            "/account/v1/factors/totp/{id}/confirm",
            post(factors::confirm_totp),
        )
        .route(
            "/account/v1/factors/passkeys",
            post(passkeys::start_registration),
        )
        .route(
            "/account/v1/factors/passkeys/confirm",
            post(passkeys::finish_registration),
        )
        .route(
            "/account/v1/reauthenticate/passkey",
            post(passkeys::start_reauth),
        )
        .route(
            "/account/v1/sign-in/second-factor/passkey",
            post(passkeys::start_second_factor),
        )
        .route(
            "/account/v1/sign-in/passkey",
            post(passkeys::start_passwordless),
        )
        .route(
            "/account/v1/sign-in/passkey/finish",
            post(passkeys::finish_passwordless),
        )
        .route("/account/v1/factors/{id}", delete(factors::remove))
        .route(
            "/account/v1/recovery-codes",
            post(factors::regenerate_codes),
        )
        .route("/account/v1/reauthenticate", post(factors::reauthenticate))
        .route("/account/v1/sign-in", post(factors::sign_in))
        .route(
            "/account/v1/sign-in/second-factor",
            post(factors::second_factor),
        )
        .route(
            "/account/v1/password/reset-required",
            post(handlers::change_required_password),
        )
        .layer(middleware::from_fn(finish))
        // Answers name sessions and carry tokens; none may be cached.
        .layer(middleware::from_fn(portcullis_edge::no_store))
        .with_state(engine)
}
