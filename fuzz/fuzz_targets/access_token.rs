//! Access-token validation (`AccessTokens::validate_for`) against a real key ring.
//!
//! Selector byte, then:
//! * even: the rest is a token as presented (mutated seed tokens signed by the ring's key);
//! * odd: the rest is `header JSON \0 claims JSON` (no `\0`: the ring's own header), signed
//!   with the ring's key, so claim and header parsing run behind a good signature; the same
//!   token with its payload altered must then be refused.
//!
//! Invariants: nothing is accepted unless the ring's key signed exactly those bytes; an
//! accepted token's claims satisfy every rule (issuer, audience, time window, principal);
//! validating again (now from the cache) gives the same answer;
//! `verify_ignoring_expiry` agrees with an acceptance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::tokens::{TokenAudience, TokenFailure};
use portcullis_fuzz::ring::{AUDIENCE, FIXTURE, ISSUER, KID, LEEWAY_SECS, sign, signed_by_fixture};
use portcullis_fuzz::{selector, split_once};

fn check(token: &str, audience: TokenAudience) -> bool {
    let tokens = &FIXTURE.tokens;
    let now = chrono::Utc::now();
    let first = tokens.validate_for(token, now, audience);
    let again = tokens.validate_for(token, now, audience);
    match (&first, &again) {
        (Ok((c1, p1)), Ok((c2, p2))) => assert!(c1 == c2 && p1 == p2, "cache changed the claims"),
        (Err(e1), Err(e2)) => assert_eq!(e1, e2, "a refusal changed on the second look"),
        _ => panic!("the second validation disagrees: {first:?} then {again:?}"),
    }
    let Ok((claims, principal)) = first else {
        return false;
    };
    assert!(
        signed_by_fixture(token),
        "accepted a token the ring did not sign"
    );
    assert_eq!(claims.iss, ISSUER);
    match audience {
        TokenAudience::Api => assert!(claims.aud == AUDIENCE && claims.client_id.is_none()),
        // Issued to a client; `aud` is that client or an audience a token exchange allowed.
        TokenAudience::OidcClient => assert!(claims.client_id.is_some() && claims.aud != AUDIENCE),
    }
    let t = now.timestamp();
    assert!(
        claims.exp.saturating_add(LEEWAY_SECS as i64) >= t,
        "accepted an expired token"
    );
    assert!(
        claims.nbf <= t.saturating_add(LEEWAY_SECS as i64),
        "accepted a future token"
    );
    assert_eq!(principal.user.0, claims.sub);
    assert_eq!(principal.org.0, claims.org);
    assert_eq!(principal.amr, claims.amr);
    match tokens.verify_ignoring_expiry(token) {
        Ok(c) => assert_eq!(&c, &*claims),
        Err(TokenFailure::Expired) => panic!("verify_ignoring_expiry checked expiry"),
        // nbf and the clock: a second may have passed.
        Err(_) => {}
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = selector(data) else {
        return;
    };
    let audience = if sel & 2 == 0 {
        TokenAudience::Api
    } else {
        TokenAudience::OidcClient
    };
    if sel & 1 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            check(token, audience);
        }
        return;
    }
    let (header, payload) = match split_once(rest, 0) {
        (payload, []) => (
            format!(r#"{{"typ":"at+jwt","alg":"EdDSA","kid":"{KID}"}}"#).into_bytes(),
            payload,
        ),
        (header, payload) => (header.to_vec(), payload),
    };
    let token = sign(&header, payload);
    if !check(&token, audience) {
        return;
    }
    // Any change to the signed payload must be refused.
    let (head, tail) = token.split_once('.').unwrap_or_default();
    let (body, sig) = tail.split_once('.').unwrap_or_default();
    let altered = format!(
        "{head}.{body}{}.{sig}",
        if body.ends_with('A') { "B" } else { "A" }
    );
    assert!(
        FIXTURE
            .tokens
            .validate_for(&altered, chrono::Utc::now(), audience)
            .is_err()
    );
});
