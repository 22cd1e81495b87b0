//! `GET /openapi.json` on the real binary: served without auth and cacheable, and every
//! operation it documents is routed (the request reaches a handler: never the server's
//! "not found" fallback, never a 405). The other direction, every JSON route documented, holds
//! by construction (the route tables, `crates/portcullis/src/openapi/tests.rs`).

mod common;

use std::net::SocketAddr;

use common::*;

/// One request, with an empty JSON object where the method takes a body.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let body = (!matches!(method, "GET" | "DELETE")).then_some("{}");
    http_request(addr, method, path, body)
}

/// A value for a path parameter: a UUID fits every one (org ids), and any string reaches the
/// handlers of the others, which refuse it themselves.
fn fill(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "00000000-0000-4000-8000-000000000000"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_served_document_is_cacheable_and_every_operation_is_routed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(portcullis(tmp.path()));
    let (status, head, body) = request(server.addr, "GET", "/openapi.json");
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("cache-control: public"), "{head}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    // The server's own answer for a path nothing routes.
    let (status, _, fallback) = request(server.addr, "GET", "/no/such/route");
    assert_eq!(status, 404);
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            let (status, _, body) = request(server.addr, &method, &fill(path));
            assert_ne!(status, 405, "{method} {path} is not routed for its method");
            assert!(
                !(status == 404 && body == fallback),
                "{method} {path} is documented but not routed"
            );
            probed += 1;
        }
    }
    assert!(probed > 60, "{probed} operations");
}
