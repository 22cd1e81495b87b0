//! What an upstream OpenID provider answers, as the federation reads it (`__fuzz` entry
//! points over the live code). Selector byte mod 6, then the body:
//! 0 discovery document, 1 JWKS, 2 token endpoint answer (its ID token's header and claims),
//! 3 introspection answer, 4 a presented JWT's claims (ID, access or logout use by the next
//! byte).
//!
//! Invariants: every parser is deterministic; discovery never accepts another issuer; a JWKS
//! never yields a key usable for `HS256` or `none`, and a key is offered only for algorithms
//! of its type; an accepted token or introspection answer maps to an identity with a non-blank
//! subject, a normalised email, and (ID and access tokens) an expiry no later than the token's.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use portcullis_federation::__fuzz;
use portcullis_federation::{ProviderConfig, UpstreamIdentity};

const ISSUER: &str = "https://idp.example";

static CFG: LazyLock<ProviderConfig> = LazyLock::new(|| {
    let mut cfg = ProviderConfig::new("idp", ISSUER, vec!["app".into(), "other".into()]);
    cfg.claims.groups = Some("groups".into());
    cfg.claims.org = Some("orgs".into());
    cfg.claims.role = Some("roles".into());
    cfg
});

fn identity(id: &UpstreamIdentity) {
    assert!(!id.subject.is_empty());
    assert_eq!(id.issuer, ISSUER);
    if let Some(e) = &id.email {
        assert_eq!(
            e,
            &portcullis_core::normalize_email(e),
            "email not normalised"
        );
        assert!(!e.is_empty());
    }
    for v in [&id.name, &id.picture] {
        assert!(
            v.as_ref()
                .is_none_or(|s| !s.trim().is_empty() && s.trim() == s)
        );
    }
}

/// `FederationError` has no `PartialEq`: its `Debug` form says everything it holds.
fn same<T: std::fmt::Debug>(a: &T, b: &T) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "not deterministic");
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, body)) = portcullis_fuzz::selector(data) else {
        return;
    };
    let cfg = &*CFG;
    let now = 1_800_000_000;
    match sel % 6 {
        0 => {
            let d = __fuzz::discovery(cfg, body);
            assert_eq!(d, __fuzz::discovery(cfg, body));
            if let Ok(d) = d {
                assert_eq!(d.issuer, ISSUER);
            }
        }
        1 => {
            let keys = __fuzz::jwks(body);
            assert_eq!(keys, __fuzz::jwks(body));
            let Ok((keys, symmetric)) = keys else {
                return;
            };
            assert!(!symmetric, "a JWKS key verifies HS256 or none");
            for (_, algs) in keys {
                let rsa = algs
                    .iter()
                    .any(|a| a.starts_with("RS") || a.starts_with("PS"));
                let ec = algs.iter().any(|a| a.starts_with("ES"));
                let ed = algs.contains(&"EdDSA");
                assert!(u8::from(rsa) + u8::from(ec) + u8::from(ed) <= 1, "{algs:?}");
                assert!(
                    !(algs.contains(&"ES256") && algs.contains(&"ES384")),
                    "{algs:?}"
                );
            }
        }
        2 => {
            let r = __fuzz::token_response(cfg, body, now);
            same(&r, &__fuzz::token_response(cfg, body, now));
            if let Ok(id) = r {
                identity(&id);
            }
        }
        3 => {
            let r = __fuzz::introspection(cfg, body, now);
            same(&r, &__fuzz::introspection(cfg, body, now));
            if let Ok(id) = r {
                identity(&id);
            }
        }
        _ => {
            let Some((use_, token)) = portcullis_fuzz::selector(body) else {
                return;
            };
            let Ok(token) = std::str::from_utf8(token) else {
                return;
            };
            let r = __fuzz::jwt_claims(cfg, token, use_, now);
            same(&r, &__fuzz::jwt_claims(cfg, token, use_, now));
            if let Ok(id) = r {
                assert!(!id.subject.is_empty());
                if use_ % 3 != 2 {
                    let exp = id.expires_at.map(|t| t.timestamp());
                    assert!(exp.is_none_or(|e| e + 60 >= now), "an expired token passed");
                }
            }
        }
    }
});
