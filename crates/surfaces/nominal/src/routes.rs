//! The router: every endpoint of NOMINAL.md §7 under `/api`.
//!
//! Only this surface's own paths are routed; there is no fallback, so an unknown path gets the
//! server's 404 (and `/api/auth` stays with the Parsable surface). A known path with another
//! method gets axum's 405 with an empty body. Paths match exactly (no trailing-slash folding).

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post, put};
use portcullis_core::engine::Engine;
use portcullis_core::mediamtx::MediaMtxSigner;
use portcullis_federation::Federation;
// On the routes whose answers carry a token or an API key secret.
use portcullis_edge::no_store;

use crate::handlers::{
    apikeys, authentication, authorization, federation, mediamtx, sandbox, workspace,
};

/// What every handler gets.
#[derive(Clone)]
pub struct NominalState {
    pub engine: Arc<Engine>,
    /// `None` when MediaMTX is not configured (its endpoints answer 404).
    pub mediamtx: Option<Arc<MediaMtxSigner>>,
    /// The upstream OpenID providers; `None`: the OIDC endpoints answer `NotAuthorized`.
    pub federation: Option<Arc<Federation>>,
}

impl std::fmt::Debug for NominalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NominalState")
            .field("mediamtx", &self.mediamtx.is_some())
            .field("federation", &self.federation)
            .finish()
    }
}

/// The Nominal surface, state applied. Builds the MediaMTX signer from the engine's config
/// (a key file, or a generated key); if that fails, MediaMTX stays disabled and it is logged.
/// `federation` serves getAccessToken, refreshAccessToken, getUserOrgs and
/// getIdpEndSessionEndpoint.
pub fn router(engine: Arc<Engine>, federation: Option<Arc<Federation>>) -> Router {
    let mediamtx = match MediaMtxSigner::from_config(
        &engine.config().mediamtx,
        &engine.config().public_url,
    ) {
        Ok(s) => s.map(Arc::new),
        Err(e) => {
            tracing::error!(error = %e, "MediaMTX is configured but its key is unusable; disabled");
            None
        }
    };
    router_with(NominalState {
        engine,
        mediamtx,
        federation,
    })
}

/// The router for a given state (tests inject their own MediaMTX signer).
pub fn router_with(state: NominalState) -> Router {
    Router::new()
        // AuthorizationService
        .route(
            "/api/authorization/v1/authorize",
            post(authorization::authorize),
        )
        .route(
            "/api/authorization/v1/batch-get-workspace-for-resource",
            post(authorization::batch_get_workspace_for_resource),
        )
        .route(
            "/api/authorization/v1/register-in-workspace",
            post(authorization::register_in_workspace),
        )
        .route(
            "/api/authorization/v1/checkAdmin",
            get(authorization::check_admin),
        )
        .route(
            "/api/authorization/v1/is-email-allowed",
            post(authorization::is_email_allowed),
        )
        .route(
            "/api/authorization/v1/is-email-allowed-okta",
            post(authorization::is_email_allowed_okta),
        )
        .route(
            "/api/authorization/v1/is-email-allowed-freemium-okta",
            post(authorization::is_email_allowed_freemium_okta),
        )
        .route(
            "/api/authorization/v1/user-orgs",
            post(federation::get_user_orgs),
        )
        .route(
            "/api/authorization/v1/set-user-org",
            post(authorization::set_user_org).layer(from_fn(no_store)),
        )
        .route(
            "/api/authorization/v1/access-token",
            post(federation::get_access_token).layer(from_fn(no_store)),
        )
        .route(
            "/api/authorization/v1/refresh-access-token",
            post(federation::refresh_access_token).layer(from_fn(no_store)),
        )
        .route(
            "/api/authorization/v1/get-idp-end-session-endpoint",
            post(federation::get_idp_end_session_endpoint),
        )
        .route(
            "/api/authorization/v1/api-key",
            post(apikeys::create).layer(from_fn(no_store)),
        )
        .route(
            "/api/authorization/v1/api-keys/org",
            post(apikeys::list_in_org),
        )
        .route(
            "/api/authorization/v1/api-keys/user",
            post(apikeys::list_user),
        )
        .route(
            "/api/authorization/v1/api-key/{rid}/delete",
            put(apikeys::revoke),
        )
        // InternalApiKeyService, InternalSandboxTokenService
        .route(
            "/api/api-key-internal/v1/access-token",
            post(apikeys::exchange).layer(from_fn(no_store)),
        )
        .route(
            "/api/sandbox-token-internal/v1/issue",
            post(sandbox::issue).layer(from_fn(no_store)),
        )
        // MediaMTX's auth callback (authMethod: http): a Portcullis extension.
        .route("/api/mediamtx-internal/v1/auth", post(mediamtx::authorize))
        // AuthenticationServiceV2
        .route(
            "/api/authentication/v2/my/profile",
            get(authentication::get_my_profile).put(authentication::update_my_profile),
        )
        .route(
            "/api/authentication/v2/my/settings",
            get(authentication::get_my_settings).put(authentication::update_my_settings),
        )
        .route(
            "/api/authentication/v2/org/settings",
            get(authentication::get_my_org_settings).put(authentication::update_my_org_settings),
        )
        .route(
            "/api/authentication/v2/users",
            post(authentication::search_users),
        )
        .route(
            "/api/authentication/v2/users/batch",
            post(authentication::get_users),
        )
        .route(
            "/api/authentication/v2/users/{userRid}",
            get(authentication::get_user),
        )
        .route("/api/authentication/v2/jwks", get(authentication::get_jwks))
        .route(
            "/api/authentication/v2/mediamtx/token",
            post(authentication::generate_media_mtx_token).layer(from_fn(no_store)),
        )
        .route(
            "/api/authentication/v2/batch-preregister-users",
            post(authentication::batch_preregister_users),
        )
        .route(
            "/api/authentication/v2/admin/org/login-activity",
            post(authentication::list_org_login_activity),
        )
        .route(
            "/api/authentication/v2/admin/users/{userRid}/deactivate",
            post(authentication::deactivate_user),
        )
        .route(
            "/api/authentication/v2/admin/users/{userRid}/reactivate",
            post(authentication::reactivate_user),
        )
        // WorkspaceService
        .route(
            "/api/workspaces/v1/workspaces",
            get(workspace::get_workspaces),
        )
        .route(
            "/api/workspaces/v1/workspaces/{rid}",
            get(workspace::get_workspace).put(workspace::update_workspace),
        )
        .route(
            "/api/workspaces/v1/default-workspace",
            get(workspace::get_default_workspace),
        )
        .with_state(state)
}
