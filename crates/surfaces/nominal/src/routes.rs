//! The router: every endpoint of NOMINAL.md §7 under `/api`, mounted from the OpenAPI
//! operations generated from the IR (`openapi.rs`), each with its handler by endpoint name.
//!
//! Only this surface's own paths are routed; there is no fallback, so an unknown path gets the
//! server's 404 (and `/api/auth` stays with the Parsable surface). A known path with another
//! method gets axum's 405 with an empty body. Paths match exactly (no trailing-slash folding).

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodFilter, MethodRouter};
use portcullis_core::engine::Engine;
use portcullis_core::mediamtx::MediaMtxSigner;
use portcullis_federation::Federation;

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
    crate::openapi::table().into_parts().0.with_state(state)
}

/// The handler of an IR endpoint, mounted for `method` only; `None` for a name this surface
/// does not serve (a test checks there is none).
pub(crate) fn handler(name: &str, method: MethodFilter) -> Option<MethodRouter<NominalState>> {
    use axum::routing::on;
    let m = method;
    Some(match name {
        // AuthorizationService
        "authorize" => on(m, authorization::authorize),
        "batchGetWorkspaceForResource" => on(m, authorization::batch_get_workspace_for_resource),
        "registerInWorkspace" => on(m, authorization::register_in_workspace),
        "checkAdmin" => on(m, authorization::check_admin),
        "isEmailAllowed" => on(m, authorization::is_email_allowed),
        "isEmailAllowedOkta" => on(m, authorization::is_email_allowed_okta),
        "isEmailAllowedFreemiumOkta" => on(m, authorization::is_email_allowed_freemium_okta),
        "getUserOrgs" => on(m, federation::get_user_orgs),
        "setUserOrg" => on(m, authorization::set_user_org),
        "getAccessToken" => on(m, federation::get_access_token),
        "refreshAccessToken" => on(m, federation::refresh_access_token),
        "getIdpEndSessionEndpoint" => on(m, federation::get_idp_end_session_endpoint),
        "createApiKey" => on(m, apikeys::create),
        "listApiKeysInOrg" => on(m, apikeys::list_in_org),
        "listUserApiKeys" => on(m, apikeys::list_user),
        "revokeApiKey" => on(m, apikeys::revoke),
        // InternalApiKeyService, InternalSandboxTokenService
        "getAccessTokenFromApiKeyValue" => on(m, apikeys::exchange),
        "issueSandboxToken" => on(m, sandbox::issue),
        // AuthenticationServiceV2
        "getMyProfile" => on(m, authentication::get_my_profile),
        "updateMyProfile" => on(m, authentication::update_my_profile),
        "getMySettings" => on(m, authentication::get_my_settings),
        "updateMySettings" => on(m, authentication::update_my_settings),
        "getMyOrgSettings" => on(m, authentication::get_my_org_settings),
        "updateMyOrgSettings" => on(m, authentication::update_my_org_settings),
        "searchUsersV2" => on(m, authentication::search_users),
        "getUsers" => on(m, authentication::get_users),
        "getUser" => on(m, authentication::get_user),
        "getJwks" => on(m, authentication::get_jwks),
        "generateMediaMtxToken" => on(m, authentication::generate_media_mtx_token),
        "batchPreregisterUsers" => on(m, authentication::batch_preregister_users),
        "listOrgLoginActivity" => on(m, authentication::list_org_login_activity),
        "deactivateUser" => on(m, authentication::deactivate_user),
        "reactivateUser" => on(m, authentication::reactivate_user),
        // WorkspaceService
        "getWorkspaces" => on(m, workspace::get_workspaces),
        "getWorkspace" => on(m, workspace::get_workspace),
        "updateWorkspace" => on(m, workspace::update_workspace),
        "getDefaultWorkspace" => on(m, workspace::get_default_workspace),
        // MediaMTX's auth callback (authMethod: http): a Portcullis extension.
        crate::openapi::MEDIAMTX_AUTH => on(m, mediamtx::authorize),
        _ => return None,
    })
}

/// Endpoints whose answers carry a token or an API key secret: never cached.
pub(crate) const NO_STORE: &[&str] = &[
    "setUserOrg",
    "getAccessToken",
    "refreshAccessToken",
    "createApiKey",
    "getAccessTokenFromApiKeyValue",
    "issueSandboxToken",
    "generateMediaMtxToken",
];
