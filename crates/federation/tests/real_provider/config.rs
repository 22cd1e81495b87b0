//! The provider table of the TOML config.

use super::*;

#[test]
fn provider_toml_schema() {
    #[derive(serde::Deserialize)]
    struct Root {
        federation: Fed,
    }
    #[derive(serde::Deserialize)]
    struct Fed {
        providers: Vec<ProviderConfig>,
    }
    let src = r#"
        [[federation.providers]]
        alias = "corp"
        kind = "oidc"
        issuer = "https://login.example.com"
        client_ids = ["portcullis"]
        access_token_format = "jwt"
        jit_provisioning = true
        link_verified_email = false
        allowed_orgs = ["acme"]
        email_domains = ["example.com"]
        sync_memberships = true
        [federation.providers.claims]
        groups = "groups"
        [[federation.providers.group_mappings]]
        group = "eng"
        org = "acme"
        roles = ["AUTHOR", "EXECUTOR"]
        [[federation.providers.jit_orgs]]
        org = "acme"
        kind = "guest"

        [[federation.providers]]
        alias = "okta"
        kind = "okta"
        issuer = "https://acme.okta.com/oauth2/default"
        client_ids = ["0oa1", "api://default"]
        access_token_format = "opaque"
        introspection_client_secret = "s3cret"
        max_session_beyond_upstream_secs = 3600
    "#;
    let root: Root = toml::from_str(src).expect("schema");
    let ps = root.federation.providers;
    assert_eq!(ps.len(), 2);
    assert!(ps.iter().all(|p| p.validate().is_ok()));
    assert_eq!(ps[0].group_mappings[0].roles.len(), 2);
    assert_eq!(ps[0].jit_orgs[0].kind, MembershipKind::Guest);
    assert_eq!(ps[1].access_token_format, AccessTokenFormat::Opaque);
    let (cid, secret) = ps[1].introspection_credentials().expect("introspection");
    assert_eq!((cid, secret.expose()), ("0oa1", "s3cret"));
    assert!(!toml::to_string(&ps[1]).unwrap().contains("s3cret"));
    assert_eq!(ps[1].max_session_beyond_upstream_secs, 3600);
    assert_eq!(ps[0].max_session_beyond_upstream_secs, 36_000);
    assert!(ps[0].introspection_credentials().is_none());
    assert_eq!(ps[0].leeway(), 30);
    let bad = toml::from_str::<Root>(&src.replace("jwt", "hs256"));
    assert!(bad.is_err());
    let mut p = ps[0].clone();
    p.algorithms = vec!["HS256".into()];
    assert!(p.validate().is_err());
    p.algorithms = vec![];
    p.leeway_secs = 61;
    assert!(p.validate().is_err());

    // opaque_tokens_via_userinfo: off by default; only for opaque tokens without introspection.
    assert!(ps.iter().all(|p| !p.opaque_tokens_via_userinfo));
    let opted = src.replace(
        "introspection_client_secret = \"s3cret\"",
        "opaque_tokens_via_userinfo = true",
    );
    let ps2 = toml::from_str::<Root>(&opted)
        .expect("schema")
        .federation
        .providers;
    assert!(ps2[1].opaque_tokens_via_userinfo);
    assert!(ps2[1].validate().is_ok());
    let mut both = ps[1].clone();
    both.opaque_tokens_via_userinfo = true;
    let err = both.validate().unwrap_err().to_string();
    assert!(
        err.contains("no effect with introspection_client_secret"),
        "{err}"
    );
    let mut jwt = ps[0].clone();
    jwt.opaque_tokens_via_userinfo = true;
    let err = jwt.validate().unwrap_err().to_string();
    assert!(err.contains("needs access_token_format"), "{err}");
    let typo = opted.replace("opaque_tokens_via_userinfo", "opaque_token_via_userinfo");
    assert!(
        toml::from_str::<Root>(&typo).is_err(),
        "unknown keys are refused"
    );
}
