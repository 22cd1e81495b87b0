//! The assembled document: valid OpenAPI 3.1 structure, every IR endpoint and every required
//! JSON route in it, references that resolve, a committed list of its operations, and no JSON
//! surface mounting a route outside its table (mounted ⇒ documented).

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r);
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = build();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Portcullis");
    assert!(doc["info"]["version"].is_string());
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        assert!(METHODS.contains(&method.as_str()), "{at}: method");
        assert!(path.starts_with('/'), "{at}: path");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: operationId"));
        assert!(ids.insert(id.to_owned()), "{at}: operationId {id} twice");
        // Every template parameter is declared once, as a required path parameter.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for name in portcullis_edge::openapi::path_params(&path) {
            let declared: Vec<_> = params
                .iter()
                .filter(|p| p["in"] == "path" && p["name"] == name)
                .collect();
            assert_eq!(declared.len(), 1, "{at}: path parameter {name}");
            assert_eq!(declared[0]["required"], true, "{at}: {name} required");
        }
        for p in &params {
            assert!(p["schema"].is_object(), "{at}: parameter schema");
            assert!(["path", "query", "header"].contains(&p["in"].as_str().unwrap()));
        }
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}"));
        assert!(!responses.is_empty(), "{at}: no responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{at}: no success answer"
        );
        for (status, r) in responses {
            assert!(
                status.len() == 3 && status.parse::<u16>().is_ok(),
                "{at}: {status}"
            );
            assert!(r["description"].is_string(), "{at} {status}: description");
            for (ct, media) in r["content"].as_object().into_iter().flatten() {
                assert!(media["schema"].is_object(), "{at} {status} {ct}: schema");
            }
        }
        if !matches!(method.as_str(), "get" | "delete") {
            // Only answers and requests with a body have one.
        } else {
            assert!(
                op.get("requestBody").is_none(),
                "{at}: GET/DELETE with a body"
            );
        }
        for req in op["security"].as_array().expect("security is explicit") {
            for name in req.as_object().unwrap().keys() {
                assert!(schemes.contains_key(name), "{at}: security scheme {name}");
            }
        }
    }
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("reference outside the components: {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
}

#[test]
fn every_ir_endpoint_and_every_required_route_is_documented() {
    let doc = build();
    let ir: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../surfaces/nominal/conjure/nominal-auth.conjure.json"
    )))
    .unwrap();
    let shape = |p: &str| {
        p.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    };
    let documented: BTreeSet<(String, String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, op)| {
            (
                m,
                shape(&p),
                op["operationId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut count = 0;
    for svc in ir["services"].as_array().unwrap() {
        for e in svc["endpoints"].as_array().unwrap() {
            let key = (
                e["httpMethod"].as_str().unwrap().to_ascii_lowercase(),
                shape(&format!("/api{}", e["httpPath"].as_str().unwrap())),
                e["endpointName"].as_str().unwrap().to_owned(),
            );
            assert!(documented.contains(&key), "IR endpoint {key:?} missing");
            count += 1;
        }
    }
    assert!(count > 30, "the IR has {count} endpoints");
    for (method, path) in [
        ("get", "/.well-known/openid-configuration"),
        ("get", "/.well-known/oauth-authorization-server"),
        ("post", "/oauth2/token"),
        ("get", "/oauth2/userinfo"),
        ("post", "/oauth2/userinfo"),
        ("post", "/oauth2/introspect"),
        ("post", "/oauth2/revoke"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/account/v1/sessions"),
        ("post", "/account/v1/password"),
        ("get", "/admin/v1/orgs/{orgId}/settings"),
        ("post", "/admin/v1/orgs/{orgId}/clients"),
        ("post", "/api/mediamtx-internal/v1/auth"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    // Errors are documented in each surface's own format.
    let conjure = &doc["paths"]["/api/authorization/v1/checkAdmin"]["get"]["responses"]["403"];
    assert_eq!(
        conjure["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ConjureError"
    );
    let problem = &doc["paths"]["/account/v1/sessions"]["get"]["responses"]["503"];
    assert_eq!(
        problem["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    let oauth = &doc["paths"]["/oauth2/token"]["post"]["responses"]["400"];
    assert_eq!(
        oauth["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OAuthError"
    );
}

/// The committed list of operations: an API change shows in review, and a change the list
/// does not have fails here. `PORTCULLIS_BLESS=1` rewrites it.
#[test]
fn the_operations_match_the_committed_list() {
    let doc = build();
    let mut lines: Vec<String> = operations(&doc)
        .into_iter()
        .map(|(m, p, op)| {
            format!(
                "{} {p} {}",
                m.to_ascii_uppercase(),
                op["operationId"].as_str().unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    let text = lines.join("\n") + "\n";
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi-operations.txt");
    if std::env::var("PORTCULLIS_BLESS").as_deref() == Ok("1") {
        std::fs::write(file, &text).unwrap();
    }
    let committed = std::fs::read_to_string(file).unwrap_or_default();
    assert_eq!(
        committed, text,
        "the documented operations changed: review them and run with PORTCULLIS_BLESS=1"
    );
    assert_eq!(build(), doc, "the document is deterministic");
}

/// A JSON surface mounts its routes through its table only, so nothing it routes goes
/// undocumented. HTML pages are not JSON: the OpenID surface's (authorization, consent, logout,
/// the device flow's pages) and the account surface's `src/pages/` (the `/account` pages).
#[test]
fn json_surfaces_mount_routes_only_through_their_tables() {
    let surfaces = concat!(env!("CARGO_MANIFEST_DIR"), "/../surfaces");
    let mut checked = 0;
    for surface in ["account", "org-admin", "nominal", "well-known", "oidc"] {
        let mut stack = vec![std::path::PathBuf::from(surfaces).join(surface).join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !(surface == "account" && path.ends_with("pages")) {
                        stack.push(path);
                    }
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                checked += 1;
                // What follows each `.route(`, however rustfmt broke the call into lines.
                for call in text.split(".route(").skip(1) {
                    let first = call.trim_start().lines().next().unwrap_or_default();
                    let page = [
                        "AUTHORIZE_PATH",
                        "RESUME_PATH",
                        "DECIDE_PATH",
                        "LOGOUT_PATH",
                        "DEVICE_PATH",
                        "DEVICE_CONFIRM_PATH",
                        "DEVICE_DONE_PATH",
                    ]
                    .iter()
                    .any(|p| first.starts_with(&format!("{p},")));
                    assert!(
                        surface == "oidc" && page,
                        "{}: a route outside the table: .route({first}",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(checked > 20, "{checked} files");
}
