//! Property tests: every request-body decoder of the IR endpoints handles
//! arbitrary bytes and arbitrary JSON without panicking, rejects non-JSON,
//! and (strict bodies) rejects any top-level unknown field while the lenient
//! Okta decoders are unaffected by one.

use portcullis_nominal::wire::{ENDPOINTS, endpoints::__decode_request_body};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn body_endpoints() -> Vec<(&'static str, bool)> {
    ENDPOINTS
        .iter()
        .filter(|e| e.body.is_some())
        .map(|e| (e.name, e.lenient_body))
        .collect()
}

fn decode(ep: &str, bytes: &[u8]) -> bool {
    __decode_request_body(ep, bytes)
        .expect("endpoint has a body")
        .is_ok()
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            "[a-zA-Z0-9 ._:-]{0,12}",
            Just("ri.authn.local.user.abc".to_owned()),
            Just("2025-06-01T10:00:00Z".to_owned()),
            Just("0b6a3c2e-8d1f-4f7e-9a55-3c1d2e4f5a6b".to_owned()),
            Just("NAME".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z]{1,8}",
                    Just("type".to_owned()),
                    Just("idToken".to_owned()),
                    Just("rids".to_owned()),
                    Just("query".to_owned()),
                    Just("data".to_owned()),
                    Just("exactMatch".to_owned()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let is_json = serde_json::from_slice::<Value>(&bytes).is_ok();
        for (ep, _) in body_endpoints() {
            let ok = decode(ep, &bytes);
            if !is_json {
                prop_assert!(!ok, "{ep} accepted non-JSON {bytes:?}");
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        for (ep, _) in body_endpoints() {
            let _ = decode(ep, &bytes);
        }
    }

    #[test]
    fn unknown_top_level_field_rejected_unless_lenient(
        m in prop::collection::btree_map("[a-zA-Z]{1,8}", arb_json(), 0..5),
        extra in arb_json(),
    ) {
        let base: Map<String, Value> = m.into_iter().collect();
        let mut with = base.clone();
        with.insert("zzUnknownField".into(), extra);
        let base_bytes = serde_json::to_vec(&Value::Object(base)).unwrap();
        let with_bytes = serde_json::to_vec(&Value::Object(with)).unwrap();
        for (ep, lenient) in body_endpoints() {
            let ok_with = decode(ep, &with_bytes);
            if lenient {
                prop_assert_eq!(ok_with, decode(ep, &base_bytes), "{}", ep);
            } else {
                prop_assert!(!ok_with, "{} accepted an unknown field", ep);
            }
        }
    }
}

#[test]
fn deep_nesting_is_rejected_not_a_stack_overflow() {
    let mut q = r#"{"type":"exactMatch","exactMatch":"a"}"#.to_owned();
    for _ in 0..300 {
        q = format!(r#"{{"type":"and","and":[{q}]}}"#);
    }
    let body = format!(r#"{{"query":{q}}}"#);
    assert!(!decode("searchUsersV2", body.as_bytes()));
    let arrays = "[".repeat(100_000);
    for (ep, _) in body_endpoints() {
        assert!(!decode(ep, arrays.as_bytes()));
    }
    // Moderate nesting is fine.
    let mut q = r#"{"type":"searchText","searchText":"a"}"#.to_owned();
    for _ in 0..20 {
        q = format!(r#"{{"type":"or","or":[{q}]}}"#);
    }
    assert!(decode(
        "searchUsersV2",
        format!(r#"{{"query":{q}}}"#).as_bytes()
    ));
}
