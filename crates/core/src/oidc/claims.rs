//! ID token and userinfo claims (OIDC Core §2, §3.1.3.6, §5.1, §5.3, §5.4): the standard ones,
//! the scope claims, and `org` / `orgs` for Portcullis orgs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::error::OAuthError;
use super::grants::GrantFacts;
use super::provider::Provider;
use crate::error::{CoreError, CoreResult};
use crate::model::*;
use crate::tokens::{TokenAudience, TokenFailure};

/// `at_hash`: the left half of the access token's hash with the ID token's hash function
/// (SHA-256 for RS256 and ES256; SHA-512 for Ed25519, as the EdDSA OIDC profile specifies).
pub fn at_hash(alg: IdTokenAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        IdTokenAlg::Rs256 | IdTokenAlg::Es256 => Sha256::digest(access_token.as_bytes()).to_vec(),
        IdTokenAlg::EdDsa => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// What userinfo answers, or why it refuses (RFC 6750 §3.1 codes).
pub type UserinfoResult = Result<Value, OAuthError>;

impl Provider {
    pub(super) async fn id_token(
        &self,
        client: &OAuthClient,
        f: &GrantFacts<'_>,
        access_token: &str,
        now: Timestamp,
    ) -> CoreResult<String> {
        let mut claims = self.scope_claims(f.user, f.org, f.scopes).await?;
        let lifetime = self.engine.config().oidc.id_token_secs;
        let standard = json!({
            "iss": self.issuer(),
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now.timestamp(),
            "exp": now.timestamp() + lifetime,
            "auth_time": f.auth_time.timestamp(),
            "acr": f.acr,
            "amr": f.amr,
            "sid": f.browser_session.0,
            "at_hash": at_hash(client.id_token_alg, access_token),
        });
        if let Value::Object(std) = standard {
            claims.extend(std);
        }
        if let Some(nonce) = f.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        self.engine
            .sign_jwt(client.id_token_alg, "JWT", &Value::Object(claims))
            .await
            .map_err(CoreError::from)
    }

    /// `sub` plus the claims the scopes ask for.
    async fn scope_claims(
        &self,
        user_id: UserId,
        org: OrgId,
        scopes: &[String],
    ) -> CoreResult<Map<String, Value>> {
        // Through the read cache, as getCurrentUser reads the same profile.
        let user = self
            .engine
            .cached_user(user_id)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.id.0));
        out.insert("org".into(), json!(org.0));
        if has("profile") {
            out.insert("name".into(), json!(user.display_name));
            out.insert("preferred_username".into(), json!(user.email));
            if let Some(pic) = &user.avatar_url {
                out.insert("picture".into(), json!(pic));
            }
            out.insert("updated_at".into(), json!(user.updated_at.timestamp()));
        }
        if has("email") {
            out.insert("email".into(), json!(user.email));
            out.insert("email_verified".into(), json!(user.validated_at.is_some()));
        }
        if has("orgs") {
            let store = self.engine.store();
            let mut orgs = Vec::new();
            for m in store
                .list_user_memberships(user.id, false)
                .await?
                .into_iter()
                .filter(Membership::is_active)
            {
                if let Some(o) = store.get_org(m.org_id).await?
                    && !o.disabled
                {
                    let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
                    orgs.push(json!({ "id": o.id.0, "name": o.name, "roles": roles }));
                }
            }
            out.insert("orgs".into(), Value::Array(orgs));
        }
        Ok(out)
    }

    /// `/userinfo`: the access token's user, with the claims its scopes allow.
    pub async fn userinfo(&self, access_token: &str) -> UserinfoResult {
        let now = Utc::now();
        let invalid =
            || OAuthError::invalid_token("the access token is invalid, expired or revoked");
        let (claims, principal) = self
            .engine
            .access_tokens()
            .validate_for(access_token, now, TokenAudience::OidcClient)
            .map_err(|_: TokenFailure| invalid())?;
        let scopes: Vec<String> = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .map(str::to_string)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::insufficient_scope(
                "the openid scope is required",
            ));
        }
        let mut map = self
            .scope_claims(principal.user, principal.org, &scopes)
            .await
            .map_err(|e| match e {
                CoreError::NotFound(_) => invalid(),
                other => other.into(),
            })?;
        // Who acts for the user, on an exchanged token (RFC 8693 §4.1).
        if let Some(act) = &claims.act {
            map.insert("act".into(), json!(act));
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_digest() {
        // OIDC Core §3.1.3.6: base64url of the left-most 128 bits of SHA-256 for RS256.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        let full = Sha256::digest(token.as_bytes());
        assert_eq!(
            at_hash(IdTokenAlg::Rs256, token),
            URL_SAFE_NO_PAD.encode(&full[..16])
        );
        assert_eq!(at_hash(IdTokenAlg::Rs256, token).len(), 22);
        assert_eq!(at_hash(IdTokenAlg::EdDsa, token).len(), 43);
        assert_ne!(
            at_hash(IdTokenAlg::Rs256, token),
            at_hash(IdTokenAlg::Rs256, "other")
        );
    }
}
