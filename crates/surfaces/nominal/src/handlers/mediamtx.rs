//! The MediaMTX auth callback (a Portcullis extension, not in the Conjure IR): MediaMTX
//! configured with `authMethod: http` and `authHTTPAddress: <portcullis>/api/mediamtx-internal/v1/auth`
//! posts every publish, read, playback and API request here and admits it only on a 2xx.
//! Unlike MediaMTX's offline JWT check, this one ends a token with its session: the rules are in
//! `Engine::authorize_mediamtx`.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::CoreError;
use serde::Deserialize;

use crate::auth::{ApiResult, fault};
use crate::routes::NominalState;
use crate::wire::{ConjureError, ConjureJson};

/// MediaMTX's request (`internal/auth`); fields it adds later are ignored.
#[derive(Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct MediaMtxAuthRequest {
    /// The bearer of an `Authorization` header (HTTP-based protocols).
    token: Option<String>,
    /// RTSP, RTMP and SRT clients send the token as the password.
    password: Option<String>,
    /// Or as `?jwt=<token>`.
    query: Option<String>,
    action: String,
    path: String,
}

impl std::fmt::Debug for MediaMtxAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaMtxAuthRequest")
            .field("action", &self.action)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl MediaMtxAuthRequest {
    /// Where MediaMTX put the token, in its own order of preference.
    fn token(&self) -> Option<String> {
        let nonempty =
            |s: &Option<String>| s.as_deref().filter(|t| !t.is_empty()).map(str::to_owned);
        nonempty(&self.token)
            .or_else(|| nonempty(&self.password))
            .or_else(|| {
                let query = self.query.as_deref()?;
                form_urlencoded::parse(query.as_bytes())
                    .find(|(k, v)| k == "jwt" && !v.is_empty())
                    .map(|(_, v)| v.into_owned())
            })
    }
}

/// 200 when the token allows the request now; `Authorization:NotAuthorized` (403) otherwise;
/// 404 when MediaMTX is not configured.
pub async fn authorize(
    State(st): State<NominalState>,
    ConjureJson(req): ConjureJson<MediaMtxAuthRequest>,
) -> ApiResult<StatusCode> {
    let Some(signer) = &st.mediamtx else {
        return Err(ConjureError::not_found().into());
    };
    let Some(token) = req.token() else {
        return Err(ConjureError::authorization_not_authorized().into());
    };
    match st
        .engine
        .authorize_mediamtx(signer, &token, &req.action, &req.path)
        .await
    {
        Ok(()) => Ok(StatusCode::OK),
        Err(e @ (CoreError::Store(_) | CoreError::Internal(_))) => Err(fault(e)),
        Err(e) => {
            tracing::info!(action = %req.action, path = %req.path, reason = %e, "MediaMTX request refused");
            Err(ConjureError::authorization_not_authorized().into())
        }
    }
}
