//! Federation against a real OpenID provider (node `oidc-provider`, tests/federation).

mod config;
mod expiry;
mod keys;
mod linking;
mod opaque;
mod provisioning;
#[path = "../support/mod.rs"]
mod support;
mod token_exchange;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::config::CoreConfig;
use portcullis_core::engine::OrgChoice;
use portcullis_core::{AllowlistEntry, AllowlistKind, MembershipKind, Role};
use portcullis_federation::{
    AccessTokenFormat, ClientSecret, Federation, FederationError, GroupMapping, JitOrg,
    NominalOrgRequest, ProviderConfig,
};
use portcullis_testkit::{TestEnv, ctx};
use serde_json::json;
use support::{CLIENT_ID, Idp};

fn provider(alias: &str, idp: &Idp) -> ProviderConfig {
    ProviderConfig::new(alias, &idp.issuer, vec![CLIENT_ID.into()])
}

fn jit(mut p: ProviderConfig, org: &str) -> ProviderConfig {
    p.jit_provisioning = true;
    p.jit_orgs = vec![JitOrg {
        org: org.into(),
        roles: BTreeSet::from([Role::Author]),
        kind: MembershipKind::Member,
    }];
    p
}

fn allow_domain_config(domain: &str) -> CoreConfig {
    CoreConfig {
        allowed_email_domains: vec![domain.into()],
        ..CoreConfig::default()
    }
}

/// An engine whose config allows sign-ups from `domain`.
async fn env_allowing(domain: &str) -> TestEnv {
    TestEnv::builder()
        .config(allow_domain_config(domain))
        .build()
        .await
}

fn fed(env: &TestEnv, providers: Vec<ProviderConfig>) -> Federation {
    Federation::new(providers, env.engine.clone()).expect("federation")
}
