//! The OpenID provider's request parsing. Selector byte, then:
//! * 0 mod 3: an authorization request's query, through the surface's form parser and
//!   `validate_authorize_params` for a registered client, then the pending-request seal;
//! * 1 mod 3: a token/introspection/revocation request: `Authorization value \n form body`,
//!   through the form and `Basic` parsers;
//! * 2 mod 3: a sealed pending request as a browser could send it back (`RequestSeal::open`).
//!
//! Invariants: parsing is deterministic and a parsed form re-serialised parses to the same
//! map; a refusal is never redirected anywhere but a registered redirect URI (no open
//! redirector); an accepted request has only scopes the client may ask for, `openid` among
//! them, no duplicate, an S256 challenge, bounded `state`/`nonce`; its seal opens to the same
//! request, not after expiry and not once altered; nothing but a real seal ever opens.
#![no_main]

use std::collections::BTreeSet;
use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use portcullis_core::crypto::MasterKey;
use portcullis_core::model::{ClientKind, GrantType, IdTokenAlg, OAuthClient, TokenEndpointAuth};
use portcullis_core::oidc::{
    AuthorizeError, PENDING_REQUEST_SECS, RequestSeal, match_redirect_uri,
    validate_authorize_params,
};
use portcullis_oidc::__fuzz;

static CLIENT: LazyLock<OAuthClient> = LazyLock::new(|| {
    let now = chrono::Utc::now();
    OAuthClient {
        client_id: "app".into(),
        name: "App".into(),
        kind: ClientKind::Confidential,
        token_endpoint_auth: TokenEndpointAuth::ClientSecretBasic,
        secrets: Vec::new(),
        jwks: None,
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        post_logout_redirect_uris: Vec::new(),
        grant_types: BTreeSet::from([GrantType::AuthorizationCode, GrantType::RefreshToken]),
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .into(),
        org_id: None,
        first_party: true,
        id_token_alg: IdTokenAlg::Rs256,
        access_token_secs: 300,
        refresh_token_secs: 3600,
        allow_offline: true,
        introspect_any: false,
        backchannel_logout_uri: None,
        token_exchange_audiences: Vec::new(),
        declarative: false,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
});

static SEAL: LazyLock<RequestSeal> =
    LazyLock::new(|| RequestSeal::new(MasterKey::parse(&"33".repeat(32)).expect("a key")));

fn form_round_trip(raw: &[u8]) {
    let first = __fuzz::parse_form(raw);
    assert_eq!(first, __fuzz::parse_form(raw));
    if let Ok(map) = first {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.extend_pairs(&map);
        assert_eq!(__fuzz::parse_form(ser.finish().as_bytes()), Ok(map));
    }
}

fn authorize(raw: &[u8]) {
    form_round_trip(raw);
    let Ok(params) = __fuzz::authorize_params(raw) else {
        return;
    };
    let now = chrono::Utc::now();
    let client = &*CLIENT;
    let req = match validate_authorize_params(&params, Some(client), now) {
        Ok(req) => req,
        Err(AuthorizeError::Page(_)) => return,
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            ..
        }) => {
            assert!(
                match_redirect_uri(client, &redirect_uri).is_some(),
                "an error is redirected to an unregistered URI: {redirect_uri:?}"
            );
            assert!(state.is_none_or(|s| !s.is_empty() && s.len() <= 1024));
            return;
        }
    };
    assert!(match_redirect_uri(client, &req.redirect_uri).is_some());
    assert!(req.scopes.iter().any(|s| s == "openid"));
    assert!(req.scopes.iter().all(|s| client.scopes.contains(s)));
    assert_eq!(
        req.scopes.iter().collect::<BTreeSet<_>>().len(),
        req.scopes.len()
    );
    assert_eq!(req.code_challenge.len(), 43);
    assert!(req.state.as_ref().is_none_or(|s| s.len() <= 1024));
    assert!(req.nonce.as_ref().is_none_or(|s| s.len() <= 512));
    assert!(req.login_hint.as_ref().is_none_or(|s| s.len() <= 320));
    assert!(!(req.prompt.none && (req.prompt.login || req.prompt.consent)));
    let sealed = SEAL.seal(&req, now);
    assert_eq!(SEAL.open(&sealed, now).as_ref(), Some(&req));
    let later = now + chrono::Duration::seconds(PENDING_REQUEST_SECS + 1);
    assert_eq!(
        SEAL.open(&sealed, later),
        None,
        "a pending request outlived its seal"
    );
    let mut altered = sealed.into_bytes();
    if let Some(b) = altered.get_mut(10) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let altered = String::from_utf8(altered).unwrap_or_default();
    assert_eq!(SEAL.open(&altered, now), None, "an altered seal opened");
}

fn client_auth(data: &[u8]) {
    let (auth, form) = portcullis_fuzz::split_once(data, b'\n');
    form_round_trip(form);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let first = __fuzz::client_auth(&headers, form);
    let again = __fuzz::client_auth(&headers, form);
    match (&first, &again) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.basic, b.basic);
            assert_eq!(a.client_id, b.client_id);
            if let Some((id, _)) = &a.basic {
                assert!(!id.is_empty(), "Basic credentials with an empty client id");
            }
            for v in [&a.client_id, &a.client_secret, &a.client_assertion] {
                assert!(v.as_ref().is_none_or(|s| !s.is_empty()));
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("client authentication parsing is not deterministic"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = portcullis_fuzz::selector(data) else {
        return;
    };
    match sel % 3 {
        0 => authorize(rest),
        1 => client_auth(rest),
        _ => {
            if let Ok(s) = std::str::from_utf8(rest) {
                assert_eq!(
                    SEAL.open(s, chrono::Utc::now()),
                    None,
                    "a forged seal opened"
                );
            }
        }
    }
});
