//! Every request body the Nominal surface decodes (the IR's body endpoints; the Okta hooks
//! leniently). The first byte picks the endpoint, the rest is the body.
//!
//! Invariants: non-JSON is refused; decoding is deterministic (a refusal repeats with the same
//! error); an accepted body serialises (serde) to canonical JSON that decodes again to the same
//! canonical JSON.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use portcullis_nominal::wire::ENDPOINTS;
use portcullis_nominal::wire::endpoints::{__decode_request_body, __reencode_request_body};

static BODY_ENDPOINTS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ENDPOINTS
        .iter()
        .filter(|e| e.body.is_some())
        .map(|e| e.name)
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((sel, body)) = portcullis_fuzz::selector(data) else {
        return;
    };
    let endpoint = BODY_ENDPOINTS[usize::from(sel) % BODY_ENDPOINTS.len()];
    let decoded = __decode_request_body(endpoint, body).expect("the endpoint has a body");
    let reencoded = __reencode_request_body(endpoint, body).expect("the endpoint has a body");
    if serde_json::from_slice::<serde_json::Value>(body).is_err() {
        assert!(decoded.is_err(), "{endpoint} accepted non-JSON");
    }
    let canonical = match (decoded, reencoded) {
        (Ok(()), Ok(bytes)) => bytes.expect("an accepted body serialises"),
        (Err(e1), Err(e2)) => {
            assert_eq!(
                format!("{e1:?}"),
                format!("{e2:?}"),
                "{endpoint}: refusal changed"
            );
            return;
        }
        (a, b) => panic!(
            "{endpoint}: decoders disagree: {a:?} vs {:?}",
            b.map(|_| ())
        ),
    };
    let again = __reencode_request_body(endpoint, &canonical).expect("the endpoint has a body");
    match again {
        Ok(Ok(bytes)) => assert_eq!(
            bytes,
            canonical,
            "{endpoint}: not a fixed point: {}",
            String::from_utf8_lossy(&canonical)
        ),
        other => panic!(
            "{endpoint}: its own encoding is refused: {other:?}\n{}",
            String::from_utf8_lossy(&canonical)
        ),
    }
});
