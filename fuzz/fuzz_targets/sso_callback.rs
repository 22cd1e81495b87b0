//! The browser-SSO callback's request as the handler reads it before any look-up: the query
//! (`code`, `state`, `error`, through axum's `Query`), the state's shape check, and the
//! binding cookie. Input: `query \n cookie-header-value \n cookie-header-value …`.
//!
//! The store part (`take_sso_flow`) is not fuzzed: a state that fails `well_formed` never
//! reaches it, and one that passes is only hashed and looked up.
//!
//! Invariants: parsing is deterministic; a parsed query re-serialised parses to the same
//! values; a state accepted by `well_formed` is 1–128 characters of `[A-Za-z0-9_-]`; a cookie
//! read is a single `name=value` pair of the header (none when the name repeats), trimmed, with
//! no `;`, and a `Set-Cookie` for it never panics.
#![no_main]

use http::{HeaderMap, HeaderValue, Uri, header};
use libfuzzer_sys::fuzz_target;
use portcullis_core::websso::well_formed;
use portcullis_edge::html::{cookie, set_cookie};
use portcullis_web::{__callback_query, CALLBACK_PATH};

const COOKIE: &str = "portcullis-sso";

fuzz_target!(|data: &[u8]| {
    let (query, cookies) = portcullis_fuzz::split_once(data, b'\n');
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    if let Ok(uri) = format!("{CALLBACK_PATH}?{query}").parse::<Uri>() {
        let parsed = __callback_query(&uri);
        assert_eq!(parsed, __callback_query(&uri));
        if let Some((code, state, error)) = parsed {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [("code", &code), ("state", &state), ("error", &error)] {
                if let Some(v) = v {
                    ser.append_pair(k, v);
                }
            }
            let uri2: Uri = format!("{CALLBACK_PATH}?{}", ser.finish())
                .parse()
                .expect("a serialised query is a URI");
            assert_eq!(__callback_query(&uri2), Some((code, state.clone(), error)));
            if let Some(s) = state.filter(|s| well_formed(s)) {
                assert!(s.len() <= 128);
                assert!(
                    s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                );
            }
        }
    }

    let mut headers = HeaderMap::new();
    for line in cookies.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, v);
        }
    }
    let Some(value) = cookie(&headers, COOKIE) else {
        return;
    };
    assert_eq!(value.trim(), value);
    assert!(!value.contains(';'));
    let pairs: usize = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter(|p| p.trim().split_once('=').is_some_and(|(k, _)| k == COOKIE))
        .count();
    assert_eq!(pairs, 1, "a repeated cookie must read as none");
    let _ = well_formed(&value);
    let _ = set_cookie(COOKIE, &value, 600, true);
});
