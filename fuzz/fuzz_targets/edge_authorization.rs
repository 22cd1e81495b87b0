//! The one `Authorization` parser (`portcullis_edge::Authorization`), also used for Parsable's
//! `Idp-Authorization`. Input: the header value; a `\n` splits a second value (the header sent
//! twice).
//!
//! Invariants: parsing is deterministic; an accepted value has a known scheme and a non-empty
//! credential without surrounding whitespace, and its canonical form `<Scheme> <credential>`
//! parses to the same, with `exact` giving the credential back; a repeated header is refused.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use portcullis_edge::{Authorization, AuthorizationError};

fuzz_target!(|data: &[u8]| {
    let (one, two) = portcullis_fuzz::split_once(data, b'\n');
    let Ok(value) = HeaderValue::from_bytes(one) else {
        return;
    };
    let first = Authorization::parse(&value);
    assert_eq!(first, Authorization::parse(&value));
    let mut headers = HeaderMap::new();
    headers.append(header::AUTHORIZATION, value.clone());
    assert_eq!(Authorization::from_headers(&headers), first);
    if let Ok(second) = HeaderValue::from_bytes(two) {
        headers.append(header::AUTHORIZATION, second);
        assert_eq!(
            Authorization::from_headers(&headers),
            Err(AuthorizationError::Repeated)
        );
    }
    let Ok(auth) = first else {
        return;
    };
    let cred = auth.credential();
    assert!(!cred.is_empty());
    assert_eq!(cred.trim(), cred);
    let canonical = format!("{} {}", auth.scheme().as_str(), cred);
    let value = HeaderValue::from_str(&canonical).expect("the canonical form is a header value");
    let again = Authorization::parse(&value).expect("the canonical form parses");
    assert_eq!(again.scheme(), auth.scheme());
    assert_eq!(again.credential(), cred);
    assert_eq!(again.exact(auth.scheme()), Some(cred));
});
