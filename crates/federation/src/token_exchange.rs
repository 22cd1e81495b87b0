//! The federation as the OpenID provider's judge of upstream ID tokens in a token exchange
//! (RFC 8693, docs/design/oidc-provider.md "Token exchange"): the same verification as every
//! other upstream ID token (issuer → provider, algorithm allowlist, keys, `aud`/`azp`, `exp`,
//! `nbf`/`iat`), without userinfo; which user it is stays the core's (existing links only).

use async_trait::async_trait;
use portcullis_core::oidc::{UpstreamIdToken, UpstreamIdTokens, UpstreamRefusal};

use crate::jwt::TokenUse;
use crate::{Federation, FederationError, identity_from_claims};

fn refusal(e: FederationError) -> UpstreamRefusal {
    match e {
        FederationError::UnknownIssuer { .. } | FederationError::UnknownProvider(_) => {
            UpstreamRefusal::Untrusted
        }
        FederationError::Expired => UpstreamRefusal::Expired,
        FederationError::ProviderUnavailable(_) => UpstreamRefusal::Unavailable,
        other => UpstreamRefusal::Invalid(other.to_string()),
    }
}

#[async_trait]
impl UpstreamIdTokens for Federation {
    async fn verify_for_exchange(
        &self,
        id_token: &str,
    ) -> Result<UpstreamIdToken, UpstreamRefusal> {
        let (rt, claims) = self
            .verify_jwt(id_token.trim(), TokenUse::Id, None)
            .await
            .map_err(refusal)?;
        let id = identity_from_claims(&rt.cfg, &claims);
        let expires_at = id
            .expires_at
            .ok_or(UpstreamRefusal::Invalid("the ID token has no exp".into()))?;
        if id.subject.is_empty() {
            return Err(UpstreamRefusal::Invalid("the ID token has no sub".into()));
        }
        Ok(UpstreamIdToken {
            issuer: id.issuer,
            subject: id.subject,
            expires_at,
            may_act: claims.get("may_act").cloned(),
            has_act: claims.contains_key("act"),
        })
    }
}
