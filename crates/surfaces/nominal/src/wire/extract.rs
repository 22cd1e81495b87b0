//! Request extractors and parsers for the handler engineer (NOMINAL.md §1,
//! §2, §4). Every rejection is a [`ConjureError`], so axum never answers with
//! its own plain-text rejections.

use std::fmt;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use bytes::Bytes;
use portcullis_edge::BodyError;
use serde::de::DeserializeOwned;

use crate::wire::error::ConjureError;
use crate::wire::primitives::Rid;
use crate::wire::{lenient, types};

/// Largest accepted request body: 1 MiB. Larger bodies get 413
/// `Default:RequestEntityTooLarge`.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Name of the sandbox shared-secret header (`issueSandboxToken`).
pub const SANDBOX_SECRET_HEADER: &str = "X-Nominal-Sandbox-Shared-Secret";

// ------------------------------------------------------------------ bodies

/// Reads a request body of at most [`MAX_BODY_BYTES`].
///
/// Errors: `Default:RequestEntityTooLarge` when the body (or its declared
/// `Content-Length`) exceeds the limit, `Default:InvalidArgument` when the
/// body cannot be read.
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ConjureError> {
    portcullis_edge::read_body(headers, body, MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => ConjureError::request_entity_too_large(),
            BodyError::Unreadable(cause) => ConjureError::invalid_argument()
                .with_detail(format!("failed to read request body: {cause}")),
        })
}

/// Decodes a JSON body strictly into `T`. Any failure (malformed JSON, wrong
/// JSON types, missing/`null` required fields, unknown or duplicate fields,
/// bad RID/safelong/datetime/uuid/enum/union, trailing data) gives
/// `Default:InvalidArgument`; the serde message is kept as the logged-only
/// detail.
pub fn decode_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConjureError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ConjureError::invalid_argument().with_detail(format!("invalid request body: {e}"))
    })
}

/// A request type with a lenient wire variant (the Okta hook bodies).
pub trait LenientBody: Sized {
    /// The lenient variant (unknown fields ignored at every level).
    type Lenient: DeserializeOwned;
    /// Converts the lenient value into the strict type.
    fn from_lenient(value: Self::Lenient) -> Self;
}

impl LenientBody for types::OktaRegistrationRequest {
    type Lenient = lenient::OktaRegistrationRequest;
    fn from_lenient(value: Self::Lenient) -> Self {
        value.into()
    }
}

/// Decodes a JSON body leniently: unknown fields are ignored at every level,
/// but known fields keep their types and required fields stay required.
pub fn decode_lenient<T: LenientBody>(bytes: &[u8]) -> Result<T, ConjureError> {
    decode_strict::<T::Lenient>(bytes).map(T::from_lenient)
}

/// Strict JSON body extractor: `ConjureJson(req): ConjureJson<CreateApiKeyRequest>`.
///
/// Applies [`read_body`] and [`decode_strict`]. `Content-Type` is not checked
/// (NOMINAL.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConjureJson<T>(pub T);

impl<S, T> FromRequest<S> for ConjureJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ConjureError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(&parts.headers, body).await?;
        decode_strict(&bytes).map(ConjureJson)
    }
}

/// Lenient JSON body extractor for the Okta hooks:
/// `LenientJson(req): LenientJson<OktaRegistrationRequest>` yields the strict
/// type after lenient decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LenientJson<T>(pub T);

impl<S, T> FromRequest<S> for LenientJson<T>
where
    S: Send + Sync,
    T: LenientBody,
{
    type Rejection = ConjureError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ConjureJson(lenient) = ConjureJson::<T::Lenient>::from_request(req, state).await?;
        Ok(LenientJson(T::from_lenient(lenient)))
    }
}

// ------------------------------------------------------------------ auth

/// The credential of an `Authorization: Bearer <credential>` header. It is
/// not validated beyond being non-empty; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// The credential (a JWT or an API key value).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the token.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Parses the `Authorization` header per NOMINAL.md §4: exactly one header,
/// exactly `Bearer` + one space + a non-empty credential. Anything else
/// (missing, repeated, non-UTF-8, other or differently-cased scheme, empty
/// credential) gives `Default:PermissionDenied`.
pub fn parse_bearer(headers: &HeaderMap) -> Result<BearerToken, ConjureError> {
    use portcullis_edge::AuthorizationError as E;
    let not_bearer = || {
        ConjureError::permission_denied()
            .with_detail("Authorization header is not `Bearer <credential>`")
    };
    match portcullis_edge::Authorization::from_headers(headers) {
        Ok(auth) => auth
            .exact(portcullis_edge::Scheme::Bearer)
            .map(|cred| BearerToken(cred.to_owned()))
            .ok_or_else(not_bearer),
        Err(e @ (E::Missing | E::Repeated | E::NotAscii)) => {
            Err(ConjureError::permission_denied().with_detail(e.to_string()))
        }
        Err(E::Blank | E::UnknownScheme | E::NoCredential(_)) => Err(not_bearer()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ConjureError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_bearer(&parts.headers)
    }
}

/// The `X-Nominal-Sandbox-Shared-Secret` header of `issueSandboxToken`;
/// `None` when missing, repeated or not valid UTF-8. `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SandboxSharedSecret(pub Option<String>);

impl fmt::Debug for SandboxSharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("SandboxSharedSecret(Some(<redacted>))"),
            None => f.write_str("SandboxSharedSecret(None)"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SandboxSharedSecret {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(SANDBOX_SECRET_HEADER).iter();
        let value = match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok().map(str::to_owned),
            _ => None,
        };
        Ok(SandboxSharedSecret(value))
    }
}

// ------------------------------------------------------------------ path

/// A single RID path parameter (already percent-decoded by axum), validated
/// against §3 and converted into `T` (`Rid` or an alias such as `UserRid`).
/// A malformed RID gives `Default:InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RidPath<T>(pub T);

impl<S, T> FromRequestParts<S> for RidPath<T>
where
    S: Send + Sync,
    T: From<Rid>,
{
    type Rejection = ConjureError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ConjureError::invalid_argument().with_detail(format!("bad path parameter: {e}"))
            })?;
        Ok(RidPath(T::from(Rid::parse(&raw)?)))
    }
}

// ------------------------------------------------------------------ query

/// Parses a query boolean: `true`/`false` in any letter case; anything else
/// gives `Default:InvalidArgument`.
pub fn parse_query_bool(raw: &str) -> Result<bool, ConjureError> {
    if raw.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if raw.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConjureError::invalid_argument()
            .with_detail(format!("query parameter is not a boolean: {raw:?}")))
    }
}

/// The query of `getWorkspaces` as the IR's [`types::GetWorkspacesRequest`].
/// Missing parameters are `None` (the handler applies the defaults
/// `filterBySessionOrg=true`, `includeGuestWorkspaces=false`); unknown
/// parameters are ignored; a repeated or non-boolean parameter gives
/// `Default:InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetWorkspacesQuery(pub types::GetWorkspacesRequest);

impl GetWorkspacesQuery {
    /// Parses a raw query string (without `?`).
    pub fn parse(query: &str) -> Result<Self, ConjureError> {
        let mut out = types::GetWorkspacesRequest::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "filterBySessionOrg" => &mut out.filter_by_session_org,
                "includeGuestWorkspaces" => &mut out.include_guest_workspaces,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ConjureError::invalid_argument()
                    .with_detail(format!("repeated query parameter {k}")));
            }
            *slot = Some(parse_query_bool(&v)?);
        }
        Ok(GetWorkspacesQuery(out))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for GetWorkspacesQuery {
    type Rejection = ConjureError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        GetWorkspacesQuery::parse(parts.uri.query().unwrap_or(""))
    }
}
