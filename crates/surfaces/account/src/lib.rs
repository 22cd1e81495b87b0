//! Portcullis' own self-service account API under `/account/v1` (docs/design/account-surface.md):
//! a signed-in user lists and ends their sessions, lists and revokes the consents they gave
//! OpenID clients, changes their password and manages second factors (TOTP, recovery codes; a
//! JSON sign-in that asks for the second factor); an account an
//! admin flagged for a password reset chooses a new password with the admin's one-time code.
//!
//! The same things as server-rendered pages for a browser sign-in (`/account`, `/account/apps`,
//! `/account/password`; [`pages`]), on the same engine calls.
//!
//! Callers authenticate with `Authorization: Bearer <access token>` (Parsable's `Token <t>` is
//! accepted too), from either API. Errors are RFC 9457 `application/problem+json`. The rules
//! live in the core engine; this crate only maps the wire to engine calls and back.
#![forbid(unsafe_code)]

mod factors;
mod handlers;
mod pages;
mod passkeys;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use portcullis_core::engine::Engine;
use portcullis_edge::openapi::{ApiDoc, ApiRoutes, Op, PROBLEM_SCHEMA, problem_schema, schema_of};

pub use portcullis_edge::{Caller, JsonBody, PROBLEM_CONTENT_TYPE, Problem, finish};

/// The surface, state applied. No fallback: other paths stay with the server's 404.
pub fn router(engine: Arc<Engine>) -> Router {
    let (routes, _) = table().into_parts();
    let api = routes
        .layer(middleware::from_fn(finish))
        // Answers name sessions and carry tokens; none may be cached.
        .layer(middleware::from_fn(portcullis_edge::no_store))
        .with_state(engine.clone());
    // The pages set their own page headers (no-store among them); problems are the API's.
    api.merge(pages::router(engine))
}

/// The surface's OpenAPI description (the same table mounts the routes).
pub fn api() -> ApiDoc {
    table().into_parts().1
}

/// Every route, with what it takes and answers.
fn table() -> ApiRoutes<Arc<Engine>> {
    // Every bearer route: a missing, bad or spent token, a refused caller, a throttled client,
    // a store that cannot serve.
    const AUTHED: &[u16] = &[401, 403, 429, 500, 503];
    // Routes with a JSON body, on top: a bad body, a body too large, not JSON.
    const BODY: &[u16] = &[400, 413, 415];
    // Factor changes, on top: a refused argument (a passkey on an IP-address public URL), an
    // unknown factor, a state that forbids it (no factor to make codes for, the last factor an
    // org requires, a passkey registered twice).
    const FACTOR: &[u16] = &[400, 404, 409];
    let op = |op: Op| op.tag("account").bearer().problems(AUTHED);
    ApiRoutes::new()
        .mount(
            op(Op::get("/account/v1/sessions", "listMySessions"))
                .summary("The caller's live sessions")
                .json(200, schema_of::<handlers::SessionList>()),
            handlers::list_sessions,
        )
        .mount(
            op(Op::get("/account/v1/sessions/current", "currentSession"))
                .summary("The online check of a bearer")
                .json(200, schema_of::<handlers::CurrentView>()),
            handlers::current_session,
        )
        .mount(
            op(Op::post(
                "/account/v1/sessions/end-others",
                "endOtherSessions",
            ))
            .summary("Ends every session of the caller but the calling one")
            .json(200, schema_of::<handlers::Ended>()),
            handlers::end_other_sessions,
        )
        .mount(
            op(Op::delete("/account/v1/sessions/{id}", "endMySession"))
                .summary("Ends one of the caller's sessions")
                .empty(204)
                .problems(&[404]),
            handlers::end_session,
        )
        .mount(
            op(Op::get("/account/v1/consents", "listMyConsents"))
                .summary("The OpenID clients the caller consented to")
                .json(200, schema_of::<handlers::ConsentList>()),
            handlers::list_consents,
        )
        .mount(
            op(Op::delete(
                "/account/v1/consents/{clientId}",
                "revokeMyConsent",
            ))
            .summary("Revokes a consent and ends what the client holds for the caller")
            .empty(204)
            .problems(&[404]),
            handlers::revoke_consent,
        )
        .mount(
            op(Op::post("/account/v1/password", "changeMyPassword"))
                .summary("Changes the caller's password")
                .json_body(schema_of::<handlers::ChangePassword>())
                .empty(204)
                .problems(BODY),
            handlers::change_password,
        )
        .mount(
            Op::post(
                "/account/v1/password/reset-required",
                "resetRequiredPassword",
            )
            .tag("account")
            .summary("Chooses a new password with an admin's one-time reset code")
            .json_body(schema_of::<handlers::RequiredChange>())
            .empty(204)
            .problems(&[400, 401, 413, 415, 429, 500, 503]),
            handlers::change_required_password,
        )
        .mount(
            op(Op::get("/account/v1/factors", "listMyFactors"))
                .summary("The caller's second factors, recovery codes left and the policy")
                .json(200, schema_of::<factors::FactorList>()),
            factors::list,
        )
        .mount(
            op(Op::post("/account/v1/factors/totp", "startTotpEnrolment"))
                .summary("Starts a TOTP enrolment (needs a recent authentication)")
                .json_body(schema_of::<factors::StartTotp>())
                .json(201, schema_of::<factors::TotpEnrolmentJson>())
                .problems(BODY)
                .problems(FACTOR),
            factors::start_totp,
        )
        .mount(
            op(Op::post(
                "/account/v1/factors/totp/{id}/confirm",
                "confirmTotpEnrolment",
            ))
            .summary("Confirms a pending TOTP enrolment with a code from the app")
            .json_body(schema_of::<factors::Code>())
            .json(200, schema_of::<factors::Confirmed>())
            .problems(BODY)
            .problems(&[404])
            .problems(FACTOR),
            factors::confirm_totp,
        )
        .mount(
            op(Op::delete("/account/v1/factors/{id}", "removeMyFactor"))
                .summary("Removes a second factor (needs a recent authentication)")
                .empty(204)
                .problems(&[404])
                .problems(FACTOR),
            factors::remove,
        )
        .mount(
            op(Op::post(
                "/account/v1/recovery-codes",
                "regenerateRecoveryCodes",
            ))
            .summary("New recovery codes, shown once; the old ones stop working")
            .json(200, schema_of::<factors::RecoveryCodes>())
            .problems(FACTOR),
            factors::regenerate_codes,
        )
        .mount(
            op(Op::post("/account/v1/reauthenticate", "reauthenticate"))
                .summary("Proves the caller again (password or second factor) for factor changes")
                .json_body(schema_of::<factors::Proof>())
                .json(200, schema_of::<factors::Reauthenticated>())
                .problems(BODY)
                .problems(FACTOR),
            factors::reauthenticate,
        )
        .mount(
            Op::post("/account/v1/sign-in", "signIn")
                .tag("account")
                .summary("Signs in with a password; may stop for a second factor")
                .json_body(schema_of::<factors::SignIn>())
                .json(200, schema_of::<factors::SignInJson>())
                .problems(&[400, 401, 403, 412, 413, 415, 429, 500, 503]),
            factors::sign_in,
        )
        .mount(
            Op::post("/account/v1/sign-in/second-factor", "signInSecondFactor")
                .tag("account")
                .summary("Finishes a stopped sign-in with a TOTP or recovery code")
                .json_body(schema_of::<factors::SecondStep>())
                .json(200, schema_of::<factors::SignInJson>())
                .problems(&[400, 401, 403, 413, 415, 429, 500, 503]),
            factors::second_factor,
        )
        .mount(
            op(Op::post(
                "/account/v1/factors/passkeys",
                "startPasskeyRegistration",
            ))
            .summary("Starts a passkey registration (needs a recent authentication)")
            .json(201, schema_of::<passkeys::CeremonyJson>())
            .problems(FACTOR),
            passkeys::start_registration,
        )
        .mount(
            op(Op::post(
                "/account/v1/factors/passkeys/confirm",
                "finishPasskeyRegistration",
            ))
            .summary("Finishes a passkey registration with the browser's credential and a name")
            .json_body(schema_of::<passkeys::Registration>())
            .json(200, schema_of::<factors::Confirmed>())
            .problems(BODY)
            .problems(FACTOR),
            passkeys::finish_registration,
        )
        .mount(
            op(Op::post(
                "/account/v1/reauthenticate/passkey",
                "startPasskeyReauthentication",
            ))
            .summary("Options for re-authenticating with a passkey")
            .json(200, schema_of::<passkeys::CeremonyJson>())
            .problems(FACTOR),
            passkeys::start_reauth,
        )
        .mount(
            Op::post(
                "/account/v1/sign-in/second-factor/passkey",
                "startPasskeySecondFactor",
            )
            .tag("account")
            .summary("Options for answering a stopped sign-in with a passkey")
            .json_body(schema_of::<passkeys::Challenge>())
            .json(200, schema_of::<passkeys::CeremonyJson>())
            .problems(&[400, 401, 403, 413, 415, 429, 500, 503]),
            passkeys::start_second_factor,
        )
        .mount(
            Op::post("/account/v1/sign-in/passkey", "startPasswordlessSignIn")
                .tag("account")
                .summary("Options for a passwordless sign-in with a discoverable passkey")
                .json(200, schema_of::<passkeys::CeremonyJson>())
                .problems(&[400, 429, 500, 503]),
            passkeys::start_passwordless,
        )
        .mount(
            Op::post(
                "/account/v1/sign-in/passkey/finish",
                "finishPasswordlessSignIn",
            )
            .tag("account")
            .summary("Finishes a passwordless sign-in with the browser's assertion")
            .json_body(schema_of::<passkeys::Answer>())
            .json(200, schema_of::<factors::SignInJson>())
            .problems(&[400, 401, 403, 413, 415, 429, 500, 503]),
            passkeys::finish_passwordless,
        )
        .named_schema(PROBLEM_SCHEMA, problem_schema())
}
