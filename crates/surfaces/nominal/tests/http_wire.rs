//! Extractors, responses and the Conjure error body through a real axum
//! router (NOMINAL.md §1, §4, §10).

use std::collections::BTreeSet;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use portcullis_nominal::wire::{
    self, BearerToken, ConjureError, ConjureJson, ConjureResult, ErrorCode, GetWorkspacesQuery,
    JsonOk, LenientJson, MAX_BODY_BYTES, NoContent, OptionalJson, Rid, RidPath,
    SandboxSharedSecret, SerializableError, parse_query_bool,
};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn access_token(ConjureJson(req): ConjureJson<wire::GetAccessTokenRequest>) -> JsonOk<Value> {
    JsonOk(json!({"idToken": req.id_token, "hasOrg": req.org_rid.is_some()}))
}

async fn authorize(
    bearer: BearerToken,
    ConjureJson(req): ConjureJson<wire::AuthorizationRequest>,
) -> JsonOk<BTreeSet<Rid>> {
    assert!(!bearer.as_str().is_empty());
    JsonOk(req.rids)
}

async fn okta(LenientJson(req): LenientJson<wire::OktaRegistrationRequest>) -> JsonOk<String> {
    JsonOk(req.data.user_profile.email)
}

async fn get_user(_b: BearerToken, RidPath(rid): RidPath<wire::UserRid>) -> JsonOk<String> {
    JsonOk(rid.locator().to_owned())
}

async fn workspaces(_b: BearerToken, GetWorkspacesQuery(q): GetWorkspacesQuery) -> JsonOk<Value> {
    JsonOk(json!({
        "filter": q.filter_by_session_org.unwrap_or(true),
        "guests": q.include_guest_workspaces.unwrap_or(false),
    }))
}

async fn default_ws(_b: BearerToken) -> OptionalJson<wire::Workspace> {
    OptionalJson(None)
}

async fn check_admin(b: BearerToken) -> ConjureResult<NoContent> {
    if b.as_str() == "admin" {
        Ok(NoContent)
    } else {
        Err(ConjureError::authorization_not_authorized_admin(
            "ri.authn.local.organization.x",
        ))
    }
}

async fn sandbox(secret: SandboxSharedSecret) -> JsonOk<bool> {
    JsonOk(secret.0.as_deref() == Some("s3cret"))
}

fn app() -> Router {
    Router::new()
        .route("/api/authorization/v1/access-token", post(access_token))
        .route("/api/authorization/v1/authorize", post(authorize))
        .route("/api/authorization/v1/is-email-allowed-okta", post(okta))
        .route("/api/authentication/v2/users/{userRid}", get(get_user))
        .route("/api/workspaces/v1/workspaces", get(workspaces))
        .route("/api/workspaces/v1/default-workspace", get(default_ws))
        .route("/api/authorization/v1/checkAdmin", get(check_admin))
        .route("/api/sandbox-token-internal/v1/issue", post(sandbox))
        .route("/api/x", put(|| async { NoContent }))
        .fallback(wire::error::not_found_fallback)
}

async fn call(req: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
    let resp: Response = app().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, ct, body)
}

fn post_json(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path).body(body.into()).unwrap()
}

fn error_of(
    status: StatusCode,
    ct: Option<String>,
    body: &[u8],
) -> (StatusCode, SerializableError) {
    assert_eq!(ct.as_deref(), Some("application/json"));
    let e: SerializableError = serde_json::from_slice(body).unwrap();
    let id = uuid::Uuid::parse_str(&e.error_instance_id).unwrap();
    assert_eq!(id.get_version_num(), 4);
    (status, e)
}

#[tokio::test]
async fn strict_body_ok_and_python_nulls() {
    let (s, ct, b) = call(post_json(
        "/api/authorization/v1/access-token",
        r#"{"idToken":"tok","accessToken":null,"orgRid":null,"workspaceRid":null}"#,
    ))
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&b).unwrap(),
        json!({"idToken":"tok","hasOrg":false})
    );
}

#[tokio::test]
async fn strict_body_failures_are_invalid_argument() {
    for body in [
        r#"{"idToken":"tok","extra":1}"#,
        r#"{"idToken":5}"#,
        r#"{}"#,
        r#"{"idToken":"t","orgRid":"not-a-rid"}"#,
        r#"not json"#,
        "",
    ] {
        let (s, ct, b) = call(post_json("/api/authorization/v1/access-token", body)).await;
        let (s, e) = error_of(s, ct, &b);
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(e.error_code, "INVALID_ARGUMENT");
        assert_eq!(e.error_name, "Default:InvalidArgument");
        assert!(e.parameters.is_empty());
    }
}

#[tokio::test]
async fn body_size_limit() {
    // Exactly 1 MiB is accepted (as far as size goes).
    let pad = MAX_BODY_BYTES - r#"{"idToken":""}"#.len();
    let ok = format!(r#"{{"idToken":"{}"}}"#, "a".repeat(pad));
    assert_eq!(ok.len(), MAX_BODY_BYTES);
    let (s, _, _) = call(post_json("/api/authorization/v1/access-token", ok)).await;
    assert_eq!(s, StatusCode::OK);

    let big = format!(r#"{{"idToken":"{}"}}"#, "a".repeat(pad + 1));
    let (s, ct, b) = call(post_json("/api/authorization/v1/access-token", big.clone())).await;
    let (s, e) = error_of(s, ct, &b);
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e.error_name, "Default:RequestEntityTooLarge");
    assert_eq!(e.error_code, "REQUEST_ENTITY_TOO_LARGE");

    // Streamed without Content-Length.
    let stream = Body::new(chunked(big.into_bytes()));
    let (s, _, _) = call(post_json("/api/authorization/v1/access-token", stream)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    // A lying, huge Content-Length is refused up front.
    let req = Request::post("/api/authorization/v1/access-token")
        .header(header::CONTENT_LENGTH, "99999999999")
        .body(Body::from("{}"))
        .unwrap();
    let (s, _, _) = call(req).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

/// A body sent in 64 KiB frames with no size hint (like chunked encoding).
struct Chunked(std::collections::VecDeque<bytes::Bytes>);

impl http_body::Body for Chunked {
    type Data = bytes::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

fn chunked(data: Vec<u8>) -> Chunked {
    Chunked(
        data.chunks(64 * 1024)
            .map(bytes::Bytes::copy_from_slice)
            .collect(),
    )
}

#[tokio::test]
async fn bearer_header_rules() {
    let cases: [(Option<&str>, StatusCode); 8] = [
        (None, StatusCode::FORBIDDEN),
        (Some("bearer tok"), StatusCode::FORBIDDEN),
        (Some("BEARER tok"), StatusCode::FORBIDDEN),
        (Some("Bearer"), StatusCode::FORBIDDEN),
        (Some("Bearer "), StatusCode::FORBIDDEN),
        (Some("Basic dXNlcjpwYXNz"), StatusCode::FORBIDDEN),
        (Some("Token tok"), StatusCode::FORBIDDEN),
        (Some("Bearer tok"), StatusCode::OK),
    ];
    for (h, want) in cases {
        let mut req = Request::post("/api/authorization/v1/authorize");
        if let Some(h) = h {
            req = req.header(header::AUTHORIZATION, h);
        }
        let (s, ct, b) = call(req.body(Body::from(r#"{"rids":[]}"#)).unwrap()).await;
        assert_eq!(s, want, "{h:?}");
        if want == StatusCode::FORBIDDEN {
            let (_, e) = error_of(s, ct, &b);
            assert_eq!(e.error_name, "Default:PermissionDenied");
            assert_eq!(e.error_code, "PERMISSION_DENIED");
        } else {
            // Empty set result is still 200 with [].
            assert_eq!(b, b"[]");
        }
    }
    // Two Authorization headers are ambiguous: refused.
    let req = Request::post("/api/authorization/v1/authorize")
        .header(header::AUTHORIZATION, "Bearer a")
        .header(header::AUTHORIZATION, "Bearer b")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(call(req).await.0, StatusCode::FORBIDDEN);
    // The credential is passed through verbatim; Debug redacts it.
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        "Bearer nominal_api_key_abc".parse().unwrap(),
    );
    let t = wire::parse_bearer(&h).unwrap();
    assert_eq!(t.as_str(), "nominal_api_key_abc");
    assert!(!format!("{t:?}").contains("abc"));
}

#[tokio::test]
async fn okta_hook_is_lenient() {
    let body = r#"{"eventId":"e","requestType":"self.service.registration","data":{"context":{"x":1},"userProfile":{"firstName":"Ada","email":"ada@example.com"},"action":"ALLOW"}}"#;
    let (s, _, b) = call(post_json(
        "/api/authorization/v1/is-email-allowed-okta",
        body,
    ))
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, br#""ada@example.com""#);
    let (s, _, _) = call(post_json(
        "/api/authorization/v1/is-email-allowed-okta",
        r#"{"requestType":"x","data":{"userProfile":{}}}"#,
    ))
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rid_path_is_percent_decoded_and_validated() {
    let req = |p: &str| {
        Request::get(format!("/api/authentication/v2/users/{p}"))
            .header(header::AUTHORIZATION, "Bearer t")
            .body(Body::empty())
            .unwrap()
    };
    let (s, _, b) = call(req("ri.authn.local.user.abc-123")).await;
    assert_eq!((s, b.as_slice()), (StatusCode::OK, &br#""abc-123""#[..]));
    let (s, _, b) = call(req("ri%2Eauthn%2Elocal%2Euser%2Eabc")).await;
    assert_eq!((s, b.as_slice()), (StatusCode::OK, &br#""abc""#[..]));
    let (s, ct, b) = call(req("not-a-rid")).await;
    let (s, e) = error_of(s, ct, &b);
    assert_eq!(
        (s, e.error_name.as_str()),
        (StatusCode::BAD_REQUEST, "Default:InvalidArgument")
    );
    let (s, _, _) = call(req("ri.authn.local.user.a%2Fb")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn query_bools() {
    let req = |q: &str| {
        Request::get(format!("/api/workspaces/v1/workspaces{q}"))
            .header(header::AUTHORIZATION, "Bearer t")
            .body(Body::empty())
            .unwrap()
    };
    for (q, want) in [
        ("", json!({"filter": true, "guests": false})),
        (
            "?filterBySessionOrg=FALSE&includeGuestWorkspaces=True",
            json!({"filter": false, "guests": true}),
        ),
        (
            "?includeGuestWorkspaces=tRuE&unknown=zzz",
            json!({"filter": true, "guests": true}),
        ),
    ] {
        let (s, _, b) = call(req(q)).await;
        assert_eq!(s, StatusCode::OK, "{q}");
        assert_eq!(serde_json::from_slice::<Value>(&b).unwrap(), want, "{q}");
    }
    for q in [
        "?filterBySessionOrg=yes",
        "?filterBySessionOrg=1",
        "?filterBySessionOrg=",
        "?filterBySessionOrg=true&filterBySessionOrg=true",
    ] {
        assert_eq!(call(req(q)).await.0, StatusCode::BAD_REQUEST, "{q}");
    }
    assert!(parse_query_bool("TRUE").unwrap());
    assert!(!parse_query_bool("False").unwrap());
    assert!(parse_query_bool(" true").is_err());
}

#[tokio::test]
async fn void_and_optional_returns_are_204() {
    let (s, ct, b) = call(
        Request::get("/api/workspaces/v1/default-workspace")
            .header(header::AUTHORIZATION, "Bearer t")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((s, ct, b.len()), (StatusCode::NO_CONTENT, None, 0));
    let (s, _, b) = call(Request::put("/api/x").body(Body::from("ignored")).unwrap()).await;
    assert_eq!((s, b.len()), (StatusCode::NO_CONTENT, 0));
    let (s, _, b) = call(
        Request::get("/api/authorization/v1/checkAdmin")
            .header(header::AUTHORIZATION, "Bearer admin")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((s, b.len()), (StatusCode::NO_CONTENT, 0));
}

#[tokio::test]
async fn error_body_shape() {
    let (s, ct, b) = call(
        Request::get("/api/authorization/v1/checkAdmin")
            .header(header::AUTHORIZATION, "Bearer user")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    // Exactly the four keys, parameters string-valued.
    let raw: Value = serde_json::from_slice(&b).unwrap();
    let keys: Vec<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["errorCode", "errorInstanceId", "errorName", "parameters"]
    );
    let (s, e) = error_of(s, ct, &b);
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(e.error_name, "Authorization:NotAuthorizedAdmin");
    assert_eq!(
        e.parameters.get("rid").map(String::as_str),
        Some("ri.authn.local.organization.x")
    );

    // Fresh instance id per response.
    let mk = || {
        Request::get("/api/authorization/v1/checkAdmin")
            .header(header::AUTHORIZATION, "Bearer user")
            .body(Body::empty())
            .unwrap()
    };
    let a: SerializableError = serde_json::from_slice(&call(mk()).await.2).unwrap();
    let b2: SerializableError = serde_json::from_slice(&call(mk()).await.2).unwrap();
    assert_ne!(a.error_instance_id, b2.error_instance_id);

    // Unknown route: Default:NotFound.
    let (s, ct, b) = call(Request::get("/api/nope").body(Body::empty()).unwrap()).await;
    let (s, e) = error_of(s, ct, &b);
    assert_eq!(
        (s, e.error_name.as_str(), e.error_code.as_str()),
        (StatusCode::NOT_FOUND, "Default:NotFound", "NOT_FOUND")
    );
}

#[test]
fn error_params_and_statuses() {
    let e = ConjureError::authorization_missing_claims(["email"]);
    assert_eq!(e.params()["missingClaims"], r#"["email"]"#);
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    let e = ConjureError::authentication_search_users_limit_exceeded(5000, 1000);
    assert_eq!(e.params()["requestedLimit"], "5000");
    assert_eq!(e.params()["allowedLimit"], "1000");
    let e =
        ConjureError::security_forbidden_cross_workspace_operation(["ri.a.b.c.d", "ri.a.b.c.e"]);
    assert_eq!(e.params()["workspaces"], r#"["ri.a.b.c.d","ri.a.b.c.e"]"#);
    let e = ConjureError::authorization_missing_claims(Vec::<String>::new());
    assert_eq!(e.params()["missingClaims"], "[]");
    // Unsafe args are never sent.
    assert!(
        ConjureError::authentication_multiple_users_for_same_email()
            .params()
            .is_empty()
    );
    // Detail is logged only.
    let e = ConjureError::internal().with_detail("db down: password=hunter2");
    let body = serde_json::to_string(&e.to_body(uuid::Uuid::new_v4())).unwrap();
    assert!(!body.contains("hunter2"));

    let expected = [
        ("INVALID_ARGUMENT", 400),
        ("CUSTOM_CLIENT", 400),
        ("PERMISSION_DENIED", 403),
        ("NOT_FOUND", 404),
        ("CONFLICT", 409),
        ("REQUEST_ENTITY_TOO_LARGE", 413),
        ("FAILED_PRECONDITION", 500),
        ("INTERNAL", 500),
        ("TIMEOUT", 500),
        ("CUSTOM_SERVER", 500),
    ];
    assert_eq!(ErrorCode::ALL.len(), expected.len());
    for (code, status) in expected {
        assert_eq!(
            ErrorCode::from_wire(code).unwrap().status().as_u16(),
            status,
            "{code}"
        );
    }
    for (e, status) in [
        (ConjureError::invalid_argument(), 400),
        (ConjureError::permission_denied(), 403),
        (ConjureError::not_found(), 404),
        (ConjureError::request_entity_too_large(), 413),
        (ConjureError::internal(), 500),
        (
            ConjureError::authorization_register_resource_conflict("ri.a.b.c.d", "ri.a.b.c.e"),
            409,
        ),
        (
            ConjureError::authentication_multiple_users_for_same_email(),
            500,
        ),
    ] {
        assert_eq!(e.status().as_u16(), status, "{}", e.name());
    }
}

#[tokio::test]
async fn sandbox_secret_header() {
    let mk = |h: Option<&str>| {
        let mut r = Request::post("/api/sandbox-token-internal/v1/issue");
        if let Some(h) = h {
            r = r.header("X-Nominal-Sandbox-Shared-Secret", h);
        }
        r.body(Body::from("{}")).unwrap()
    };
    assert_eq!(call(mk(Some("s3cret"))).await.2, b"true");
    assert_eq!(call(mk(Some("nope"))).await.2, b"false");
    assert_eq!(call(mk(None)).await.2, b"false");
}
