use chrono::Duration;
use serde_json::json;

use super::*;

fn cfg() -> OidcConfig {
    OidcConfig::default()
}

fn now() -> Timestamp {
    chrono::Utc::now()
}

/// A valid confidential web client.
fn web() -> ClientSpec {
    ClientSpec {
        client_id: Some("web-app".into()),
        name: "Web app".into(),
        kind: ClientKind::Confidential,
        token_endpoint_auth: None,
        jwks: None,
        redirect_uris: vec!["https://app.example.com/callback".into()],
        post_logout_redirect_uris: vec![],
        grant_types: None,
        scopes: None,
        org_id: None,
        first_party: false,
        id_token_alg: None,
        access_token_secs: None,
        refresh_token_secs: None,
        allow_offline: false,
        introspect_any: false,
        backchannel_logout_uri: None,
        token_exchange_audiences: Vec::new(),
    }
}

/// A valid native public client.
fn native() -> ClientSpec {
    ClientSpec {
        client_id: Some("com.example.app".into()),
        kind: ClientKind::Public,
        redirect_uris: vec!["com.example.app:/oauth2redirect".into()],
        ..web()
    }
}

/// The refusal's message; panics when the spec is accepted.
fn refused(spec: ClientSpec) -> String {
    match spec.validate(&cfg(), now()) {
        Err(CoreError::InvalidArgument(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn ec_key() -> Value {
    // A P-256 public key (RFC 7515 A.3).
    json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "kid": "k1",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    })
}

#[test]
fn defaults_fill_a_minimal_spec() {
    let c = web().validate(&cfg(), now()).unwrap();
    assert_eq!(c.token_endpoint_auth, TokenEndpointAuth::ClientSecretBasic);
    assert_eq!(
        c.grant_types,
        BTreeSet::from([GrantType::AuthorizationCode])
    );
    assert_eq!(
        c.scopes,
        ["email", "openid", "profile"].map(String::from).into()
    );
    assert_eq!(c.access_token_secs, cfg().access_token_secs);
    assert_eq!(c.refresh_token_secs, cfg().refresh_token_secs);
    assert_eq!(c.id_token_alg, IdTokenAlg::Rs256);
    assert!(c.secrets.is_empty() && !c.declarative && c.disabled_at.is_none());

    let offline = ClientSpec {
        allow_offline: true,
        ..web()
    }
    .validate(&cfg(), now())
    .unwrap();
    assert!(offline.grant_types.contains(&GrantType::RefreshToken));
    assert!(offline.scopes.contains(SCOPE_OFFLINE));

    let public = native().validate(&cfg(), now()).unwrap();
    assert_eq!(public.token_endpoint_auth, TokenEndpointAuth::None);
}

#[test]
fn client_ids_follow_the_pattern_or_are_generated() {
    for ok in ["abc", "a.b_c-D9", &"x".repeat(64)] {
        let spec = ClientSpec {
            client_id: Some(ok.to_owned()),
            ..web()
        };
        assert_eq!(spec.validate(&cfg(), now()).unwrap().client_id, ok);
    }
    for bad in ["ab", &"x".repeat(65), "a b c", "a/b/c", "ünï", "a+b"] {
        let m = refused(ClientSpec {
            client_id: Some(bad.to_owned()),
            ..web()
        });
        assert!(m.contains("client_id"), "{bad}: {m}");
    }
    let gen_a = ClientSpec {
        client_id: None,
        ..web()
    }
    .validate(&cfg(), now())
    .unwrap()
    .client_id;
    let gen_b = ClientSpec {
        client_id: None,
        ..web()
    }
    .validate(&cfg(), now())
    .unwrap()
    .client_id;
    assert_ne!(gen_a, gen_b);
    check_client_id(&gen_a).unwrap();
}

#[test]
fn a_name_is_required() {
    let m = refused(ClientSpec {
        name: "  ".into(),
        ..web()
    });
    assert!(m.contains("name is required"), "{m}");
    assert!(
        refused(ClientSpec {
            name: "a\u{7}b".into(),
            ..web()
        })
        .contains("control")
    );
    assert!(
        refused(ClientSpec {
            name: "n".repeat(201),
            ..web()
        })
        .contains("200")
    );
    let trimmed = ClientSpec {
        name: "  App ".into(),
        ..web()
    };
    assert_eq!(trimmed.validate(&cfg(), now()).unwrap().name, "App");
}

#[test]
fn redirect_uris_must_be_exact_https_or_loopback_http() {
    let with = |uri: &str| ClientSpec {
        redirect_uris: vec![uri.to_owned()],
        ..web()
    };
    for ok in [
        "https://app.example.com/cb",
        "https://app.example.com/cb?tenant=1",
        "https://app.example.com:8443/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]:9000/cb",
        "http://localhost:3000/cb",
    ] {
        with(ok).validate(&cfg(), now()).unwrap();
    }
    for (bad, why) in [
        ("https://app.example.com/cb#x", "fragment"),
        ("https://*.example.com/cb", "wildcard"),
        ("https://app.example.com/*", "wildcard"),
        ("/relative/cb", "absolute"),
        ("app.example.com/cb", "absolute"),
        ("http://app.example.com/cb", "loopback"),
        ("http://localhost.evil.com/cb", "loopback"),
        ("http://127.0.0.1.evil.com/cb", "loopback"),
        ("https://user:pw@app.example.com/cb", "user information"),
        ("https://app.example.com/c b", "spaces"),
        ("https://app.example.com/cb\t", "spaces"),
        ("javascript:alert(1)", "scheme"),
        ("data:text/html,x", "scheme"),
        ("", "1 to"),
    ] {
        let m = refused(with(bad));
        assert!(m.contains(why), "{bad:?}: {m}");
        assert!(m.starts_with("redirect_uris"), "{m}");
    }
    let long = format!("https://app.example.com/{}", "a".repeat(2000));
    assert!(refused(with(&long)).contains("bytes"));
    let twice = ClientSpec {
        redirect_uris: vec!["https://a.example/cb".into(), "https://a.example/cb".into()],
        ..web()
    };
    assert!(refused(twice).contains("twice"));
    let many = ClientSpec {
        redirect_uris: (0..33).map(|i| format!("https://a.example/{i}")).collect(),
        ..web()
    };
    assert!(refused(many).contains("at most"));
}

#[test]
fn private_use_schemes_are_for_native_public_clients_only() {
    native().validate(&cfg(), now()).unwrap();
    let custom = ClientSpec {
        redirect_uris: vec!["com.example.app://callback".into()],
        ..native()
    };
    custom.validate(&cfg(), now()).unwrap();
    let m = refused(ClientSpec {
        redirect_uris: vec!["com.example.app:/cb".into()],
        ..web()
    });
    assert!(m.contains("public (native)"), "{m}");
    let m = refused(ClientSpec {
        redirect_uris: vec!["myapp:/cb".into()],
        ..native()
    });
    assert!(m.contains("reverse-domain"), "{m}");
}

#[test]
fn the_code_grant_needs_a_redirect_uri() {
    let m = refused(ClientSpec {
        redirect_uris: vec![],
        ..web()
    });
    assert!(m.contains("at least one"), "{m}");
}

#[test]
fn post_logout_uris_follow_the_same_rules() {
    let with = |uri: &str, base: ClientSpec| ClientSpec {
        post_logout_redirect_uris: vec![uri.to_owned()],
        ..base
    };
    with("https://app.example.com/bye", web())
        .validate(&cfg(), now())
        .unwrap();
    with("com.example.app:/bye", native())
        .validate(&cfg(), now())
        .unwrap();
    for bad in [
        "http://app.example.com/bye",
        "https://app.example.com/bye#f",
        "com.example.app:/bye",
    ] {
        let m = refused(with(bad, web()));
        assert!(m.starts_with("post_logout_redirect_uris"), "{m}");
    }
}

#[test]
fn public_clients_have_no_secret_key_or_introspection() {
    for auth in [
        TokenEndpointAuth::ClientSecretBasic,
        TokenEndpointAuth::ClientSecretPost,
        TokenEndpointAuth::PrivateKeyJwt,
    ] {
        let m = refused(ClientSpec {
            token_endpoint_auth: Some(auth),
            ..native()
        });
        assert!(m.contains("must be none"), "{m}");
    }
    let m = refused(ClientSpec {
        introspect_any: true,
        ..native()
    });
    assert!(m.contains("introspect"), "{m}");
    let m = refused(ClientSpec {
        jwks: Some(json!({"keys": [ec_key()]})),
        ..native()
    });
    assert!(m.contains("jwks is only"), "{m}");
}

#[test]
fn confidential_clients_authenticate() {
    let m = refused(ClientSpec {
        token_endpoint_auth: Some(TokenEndpointAuth::None),
        ..web()
    });
    assert!(m.contains("must authenticate"), "{m}");
    let post = ClientSpec {
        token_endpoint_auth: Some(TokenEndpointAuth::ClientSecretPost),
        ..web()
    };
    assert_eq!(
        post.validate(&cfg(), now()).unwrap().token_endpoint_auth,
        TokenEndpointAuth::ClientSecretPost
    );
    let introspector = ClientSpec {
        introspect_any: true,
        ..web()
    };
    assert!(introspector.validate(&cfg(), now()).unwrap().introspect_any);
}

#[test]
fn private_key_jwt_needs_public_keys_only() {
    let pkj = |jwks: Option<Value>| ClientSpec {
        token_endpoint_auth: Some(TokenEndpointAuth::PrivateKeyJwt),
        jwks,
        ..web()
    };
    let c = pkj(Some(json!({"keys": [ec_key()]})))
        .validate(&cfg(), now())
        .unwrap();
    assert!(c.jwks.is_some());
    let okp = json!({"kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    pkj(Some(json!({"keys": [okp]})))
        .validate(&cfg(), now())
        .unwrap();

    assert!(refused(pkj(None)).contains("needs jwks"));
    for (jwks, why) in [
        (json!([ec_key()]), "JWK Set"),
        (json!({"keys": []}), "1 to 16"),
        (
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            "not a public-key type",
        ),
        (
            json!({"keys": [{"kty": "EC", "crv": "P-256"}]}),
            "not a valid JWK",
        ),
        (
            json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]}),
            "private part",
        ),
        (
            json!({"keys": [{"kty": "RSA", "n": "!!!", "e": "AQAB"}]}),
            "not a usable key",
        ),
        (json!({"keys": vec![ec_key(); 17]}), "1 to 16"),
    ] {
        let m = refused(pkj(Some(jwks.clone())));
        assert!(m.contains(why), "{jwks}: {m}");
    }
    let m = refused(ClientSpec {
        jwks: Some(json!({"keys": [ec_key()]})),
        ..web()
    });
    assert!(m.contains("jwks is only"), "{m}");
}

#[test]
fn grant_types_are_a_coherent_subset() {
    let grants = |g: &[GrantType], offline: bool| ClientSpec {
        grant_types: Some(g.iter().copied().collect()),
        allow_offline: offline,
        scopes: Some(["openid".to_owned()].into()),
        // client_credentials needs an org (its service account's).
        org_id: Some(OrgId::new()),
        ..web()
    };
    grants(GrantType::ALL, false)
        .validate(&cfg(), now())
        .unwrap();
    grants(GrantType::ALL, true)
        .validate(&cfg(), now())
        .unwrap();
    assert!(refused(grants(&[], false)).contains("must not be empty"));
    assert!(
        refused(grants(&[GrantType::RefreshToken], false)).contains("needs authorization_code")
    );
    assert!(
        refused(grants(&[GrantType::AuthorizationCode], true)).contains("needs the refresh_token")
    );
}

#[test]
fn scopes_include_openid_from_the_offered_set() {
    let scopes = |s: &[&str], offline: bool| ClientSpec {
        scopes: Some(s.iter().map(|s| s.to_string()).collect()),
        allow_offline: offline,
        ..web()
    };
    scopes(&["openid", "orgs", "email", "profile"], false)
        .validate(&cfg(), now())
        .unwrap();
    scopes(&["openid", "offline_access"], true)
        .validate(&cfg(), now())
        .unwrap();
    assert!(refused(scopes(&["profile"], false)).contains("must include openid"));
    assert!(refused(scopes(&["openid", "admin"], false)).contains("not offered"));
    assert!(refused(scopes(&["openid", "offline_access"], false)).contains("allow_offline"));
}

#[test]
fn lifetimes_default_and_are_bounded() {
    let life = |a: Option<i64>, r: Option<i64>| ClientSpec {
        access_token_secs: a,
        refresh_token_secs: r,
        ..web()
    };
    let c = cfg();
    let ok = life(Some(30), Some(60)).validate(&c, now()).unwrap();
    assert_eq!((ok.access_token_secs, ok.refresh_token_secs), (30, 60));
    life(Some(c.max_access_token_secs), Some(c.offline_secs))
        .validate(&c, now())
        .unwrap();
    for (a, r) in [
        (Some(29), None),
        (Some(c.max_access_token_secs + 1), None),
        (Some(i64::MAX), None),
    ] {
        assert!(refused(life(a, r)).contains("access_token_secs"));
    }
    for r in [59, c.offline_secs + 1, i64::MAX, -1] {
        assert!(refused(life(None, Some(r))).contains("refresh_token_secs"));
    }
}

#[test]
fn backchannel_logout_uri_is_https_or_loopback_http() {
    let bc = |u: &str| ClientSpec {
        backchannel_logout_uri: Some(u.to_owned()),
        ..web()
    };
    bc("https://app.example.com/bc")
        .validate(&cfg(), now())
        .unwrap();
    bc("http://127.0.0.1:9000/bc")
        .validate(&cfg(), now())
        .unwrap();
    for bad in [
        "http://app.example.com/bc",
        "https://app.example.com/bc#f",
        "com.example.app:/bc",
    ] {
        assert!(
            refused(bc(bad)).starts_with("backchannel_logout_uri"),
            "{bad}"
        );
    }
}

#[test]
fn a_patch_applies_over_the_clients_own_spec() {
    let c = web().validate(&cfg(), now()).unwrap();
    let back = ClientSpec::from(&c).validate(&cfg(), now()).unwrap();
    assert_eq!(
        OAuthClient {
            created_at: c.created_at,
            updated_at: c.updated_at,
            ..back
        },
        c
    );
    let patch: ClientPatch = serde_json::from_value(json!({
        "name": "Renamed",
        "redirectUris": ["https://new.example.com/cb"],
        "backchannelLogoutUri": "https://new.example.com/bc",
    }))
    .unwrap();
    assert!(!patch.is_empty());
    let changed = patch
        .apply(&ClientSpec::from(&c))
        .unwrap()
        .validate(&cfg(), now())
        .unwrap();
    assert_eq!(changed.name, "Renamed");
    assert_eq!(changed.redirect_uris, ["https://new.example.com/cb"]);
    assert_eq!(
        changed.backchannel_logout_uri.as_deref(),
        Some("https://new.example.com/bc")
    );
    assert_eq!(changed.scopes, c.scopes);

    let patch = |v: Value| serde_json::from_value::<ClientPatch>(v).unwrap();
    let cleared = patch(json!({"backchannelLogoutUri": null}))
        .apply(&ClientSpec::from(&changed))
        .unwrap();
    assert_eq!(cleared.backchannel_logout_uri, None);
    assert!(patch(json!({})).is_empty());
    let spec = ClientSpec::from(&c);
    for (bad, why) in [
        (json!({"kind": "public"}), "kind cannot change"),
        (json!({"clientId": "x"}), "clientId cannot change"),
        (json!({"colour": "red"}), "unknown field"),
        (json!({"name": null}), "invalid type"),
        (
            json!({"redirectUris": "https://a.example/cb"}),
            "invalid type",
        ),
    ] {
        match patch(bad.clone()).apply(&spec) {
            Err(CoreError::InvalidArgument(m)) => assert!(m.contains(why), "{bad}: {m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_generated_secret_is_256_bits_and_stored_as_its_hash() {
    let t = now();
    let s = generate_client_secret(t);
    assert_eq!(s.secret.len(), 43, "32 bytes in base64url without padding");
    assert!(
        s.secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(
        s.stored.hash,
        hex::encode(crypto::sha256(s.secret.as_bytes()))
    );
    assert_eq!(s.stored.hash.len(), 64);
    assert!(!s.stored.hash.contains(s.secret.as_str()));
    assert_eq!((s.stored.created_at, s.stored.expires_at), (t, None));
    assert_ne!(generate_client_secret(t).secret, s.secret);
    assert!(!format!("{s:?}").contains(s.secret.as_str()));
}

#[test]
fn secrets_verify_while_live_and_only_for_secret_clients() {
    let t = now();
    let mut c = web().validate(&cfg(), t).unwrap();
    let old = generate_client_secret(t);
    let new = generate_client_secret(t);
    c.secrets = vec![
        ClientSecret {
            expires_at: Some(t + Duration::hours(1)),
            ..old.stored.clone()
        },
        new.stored.clone(),
    ];
    assert!(verify_client_secret(&c, &new.secret, t));
    assert!(verify_client_secret(&c, &old.secret, t));
    assert!(!verify_client_secret(
        &c,
        &old.secret,
        t + Duration::hours(1)
    ));
    assert!(verify_client_secret(
        &c,
        &new.secret,
        t + Duration::days(365)
    ));
    assert!(!verify_client_secret(&c, "wrong", t));
    assert!(!verify_client_secret(&c, "", t));
    assert!(!verify_client_secret(&c, &c.secrets[1].hash.clone(), t));

    let disabled = OAuthClient {
        disabled_at: Some(t),
        ..c.clone()
    };
    assert!(!verify_client_secret(&disabled, &new.secret, t));
    let keyed = OAuthClient {
        token_endpoint_auth: TokenEndpointAuth::PrivateKeyJwt,
        ..c.clone()
    };
    assert!(!verify_client_secret(&keyed, &new.secret, t));
    let public = OAuthClient {
        kind: ClientKind::Public,
        token_endpoint_auth: TokenEndpointAuth::None,
        ..c
    };
    assert!(!verify_client_secret(&public, &new.secret, t));
}

#[test]
fn redirect_uris_match_exactly_but_for_a_loopback_ip_port() {
    let c = ClientSpec {
        redirect_uris: vec![
            "https://app.example.com/cb".into(),
            "http://127.0.0.1/native".into(),
            "http://[::1]:4000/v6?x=1".into(),
            "http://localhost:3000/local".into(),
        ],
        post_logout_redirect_uris: vec!["http://127.0.0.1/bye".into()],
        ..web()
    }
    .validate(&cfg(), now())
    .unwrap();
    let m = |u: &str| match_redirect_uri(&c, u);
    assert_eq!(
        m("https://app.example.com/cb"),
        Some("https://app.example.com/cb")
    );
    assert_eq!(
        m("http://127.0.0.1/native"),
        Some("http://127.0.0.1/native")
    );
    assert_eq!(
        m("http://127.0.0.1:51234/native"),
        Some("http://127.0.0.1/native")
    );
    assert_eq!(m("http://[::1]/v6?x=1"), Some("http://[::1]:4000/v6?x=1"));
    assert_eq!(m("http://[::1]:1/v6?x=1"), Some("http://[::1]:4000/v6?x=1"));
    assert_eq!(
        m("http://localhost:3000/local"),
        Some("http://localhost:3000/local")
    );
    for no in [
        "https://app.example.com/cb/",
        "https://app.example.com/cb?x=1",
        "https://APP.example.com/cb",
        "https://app.example.com:443/cb",
        "https://app.example.com/cb#f",
        "http://app.example.com/cb",
        "http://127.0.0.1:51234/native/",
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:99999/native",
        "http://127.0.0.1:/native",
        "http://[::1]:1/v6",
        "http://127.0.0.1:4000/v6?x=1",
        "http://localhost:3001/local",
        "http://localhost/local",
        "https://127.0.0.1/native",
        "",
    ] {
        assert_eq!(m(no), None, "{no:?}");
    }
    assert_eq!(
        match_post_logout_redirect_uri(&c, "http://127.0.0.1:8000/bye"),
        Some("http://127.0.0.1/bye")
    );
    assert_eq!(
        match_post_logout_redirect_uri(&c, "https://app.example.com/cb"),
        None
    );
}

#[test]
fn token_exchange_is_for_confidential_clients_with_valid_audiences() {
    let exchanging = |audiences: &[&str]| ClientSpec {
        grant_types: Some([GrantType::AuthorizationCode, GrantType::TokenExchange].into()),
        token_exchange_audiences: audiences.iter().map(|a| a.to_string()).collect(),
        ..web()
    };
    let c = exchanging(&["https://api.example.com", "billing"])
        .validate(&cfg(), now())
        .unwrap();
    assert_eq!(
        c.token_exchange_audiences,
        ["https://api.example.com", "billing"]
    );
    // The grant alone (no audience) is allowed and exchanges nothing.
    assert!(exchanging(&[]).validate(&cfg(), now()).is_ok());
    // Without a code grant no redirect URI is needed.
    let machine = ClientSpec {
        redirect_uris: Vec::new(),
        grant_types: Some([GrantType::TokenExchange].into()),
        token_exchange_audiences: vec!["billing".into()],
        ..web()
    };
    assert!(machine.validate(&cfg(), now()).is_ok());
    let public = ClientSpec {
        grant_types: Some([GrantType::AuthorizationCode, GrantType::TokenExchange].into()),
        ..native()
    };
    assert!(refused(public).contains("public client cannot use token exchange"));
    let no_grant = ClientSpec {
        token_exchange_audiences: vec!["billing".into()],
        ..web()
    };
    assert!(
        refused(no_grant).contains("needs the urn:ietf:params:oauth:grant-type:token-exchange")
    );
    for bad in [&["a b"][..], &[""], &["x", "x"], &["tab\t"]] {
        assert!(
            refused(exchanging(bad)).starts_with("token_exchange_audiences"),
            "{bad:?}"
        );
    }
    let many: Vec<String> = (0..33).map(|i| format!("aud-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(refused(exchanging(&many)).contains("at most 32"));
}
