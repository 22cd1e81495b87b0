//! API keys and persistent tokens: creation (with the per-user cap), listing, revocation, and
//! the exchange of a credential secret for an access token (docs/design/credentials.md).

use super::*;

impl Engine {
    fn new_secret(&self) -> (String, [u8; 32]) {
        let secret = format!(
            "{}{}",
            self.config.credentials.prefix,
            crypto::random_token(32)
        );
        let hash = crypto::sha256(secret.as_bytes());
        (secret, hash)
    }

    /// Creates an API key for the caller in its session org. Returns the key and its secret,
    /// which is shown only now.
    pub async fn create_api_key(
        &self,
        p: &Principal,
        name: &str,
        expires_after_days: Option<i64>,
        ctx: &AuditContext,
    ) -> CoreResult<(Credential, String)> {
        if p.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed("create credentials"));
        }
        if p.actor.is_some() {
            return Err(CoreError::PermissionDenied(
                "an impersonation session cannot create credentials",
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 256 {
            return Err(CoreError::InvalidArgument(
                "apiKeyName must be 1 to 256 characters".into(),
            ));
        }
        let now = Utc::now();
        let expires_at = match expires_after_days {
            None => None,
            Some(d) if (1..=36_500).contains(&d) => Some(now + chrono::Duration::days(d)),
            Some(_) => {
                return Err(CoreError::InvalidArgument(
                    "expiresAfterDays must be between 1 and 36500".into(),
                ));
            }
        };
        // A credential outlives its session: minting one needs the session's second factor.
        self.require_second_factor_session(p).await?;
        let (secret, hash) = self.new_secret();
        let cred = Credential {
            id: CredentialId::new(),
            kind: CredentialKind::ApiKey,
            user_id: p.user,
            org_id: p.org,
            creator_id: p.user,
            name: name.to_string(),
            secret_hash: hash,
            created_at: now,
            expires_at,
            revoked_at: None,
            revoked_by: None,
        };
        self.store_api_key(cred.clone()).await?;
        self.audit_credential_create(
            ctx,
            now,
            p.user,
            cred.id,
            json!({"kind": "api_key", "org": p.org}),
        )
        .await;
        Ok((cred, secret))
    }

    /// Audits a credential the caller created (an API key or a persistent token).
    async fn audit_credential_create(
        &self,
        ctx: &AuditContext,
        now: Timestamp,
        creator: UserId,
        id: CredentialId,
        detail: serde_json::Value,
    ) {
        self.audit
            .log(
                ctx,
                now,
                Some(creator),
                AuditAction::CredentialCreate,
                Some(self.rids.api_key(id)),
                AuditOutcome::Success,
                detail,
            )
            .await;
    }

    /// Stores a new API key, refused when the user already holds `max_api_keys_per_user` live
    /// ones (all orgs), so one account cannot grow the credential table without bound. The store
    /// counts and inserts in one transaction under the user's lock: no overshoot, on any node.
    async fn store_api_key(&self, cred: Credential) -> CoreResult<()> {
        let max = self.config.credentials.max_api_keys_per_user;
        if max == 0 {
            return Ok(self.store.create_credential(cred, None).await?);
        }
        if self.store.create_api_key_capped(cred, max).await? {
            Ok(())
        } else {
            Err(CoreError::LimitExceeded {
                what: "live API keys per user",
                limit: max,
            })
        }
    }

    /// Creates a persistent token for `target` (Parsable createPersistentAuth): super-admins
    /// only, never through a credential; the user's previous persistent token is revoked.
    pub async fn create_persistent_token(
        &self,
        p: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<(Credential, String, Org)> {
        self.require_super_admin(p).await?;
        self.require_second_factor_session(p).await?;
        let user = self
            .store
            .get_user(target)
            .await?
            .filter(|u| !u.deactivated)
            .ok_or(CoreError::NotFound("user"))?;
        // A super-admin's standing credential is theirs to mint, not a peer's: one super-admin
        // must not hold a bearer secret that acts as another.
        if user.super_admin && user.id != p.user {
            return Err(CoreError::PermissionDenied(
                "a persistent token cannot target another super-admin",
            ));
        }
        let (org, _) = self.resolve_org(user.id, OrgChoice::Default).await?;
        let now = Utc::now();
        let (secret, hash) = self.new_secret();
        let cred = Credential {
            id: CredentialId::new(),
            kind: CredentialKind::Persistent,
            user_id: user.id,
            org_id: org.id,
            creator_id: p.user,
            name: "persistent".into(),
            secret_hash: hash,
            created_at: now,
            expires_at: Some(now + chrono::Duration::days(self.config.tokens.persistent_days)),
            revoked_at: None,
            revoked_by: None,
        };
        self.store
            .create_credential(cred.clone(), Some(p.user))
            .await?;
        self.revocations
            .refresh_user(self.store.as_ref(), user.id, now)
            .await?;
        self.audit_credential_create(
            ctx,
            now,
            p.user,
            cred.id,
            json!({"kind": "persistent", "user": user.id}),
        )
        .await;
        Ok((cred, secret, org))
    }

    /// Revokes the user's active persistent tokens. Idempotent.
    pub async fn revoke_persistent_tokens(
        &self,
        p: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_super_admin(p).await?;
        self.store
            .get_user(target)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        let filter = CredentialFilter {
            user_id: Some(target),
            kind: Some(CredentialKind::Persistent),
            ..CredentialFilter::default()
        };
        for c in self.store.list_credentials(&filter, 0, 1000).await? {
            self.revoke_credential_unchecked(&c, p.user, ctx).await?;
        }
        Ok(())
    }

    /// The caller as a super-admin, by the org-binding rule (`authz.rs`).
    pub async fn require_super_admin(&self, p: &Principal) -> CoreResult<User> {
        p.check_super_admin_powers("manage credentials")?;
        self.store
            .get_user(p.user)
            .await?
            .filter(|u| u.super_admin && !u.deactivated)
            .ok_or(CoreError::PermissionDenied("super-admin required"))
    }

    /// Revokes an API key: the owner may always; others need admin of the session org; a key
    /// in another org is unknown.
    pub async fn revoke_api_key(
        &self,
        p: &Principal,
        id: CredentialId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        if p.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed("revoke credentials"));
        }
        let cred = self
            .store
            .get_credential(id)
            .await?
            .filter(|c| c.org_id == p.org)
            .ok_or(CoreError::NotFound("api key"))?;
        if cred.user_id != p.user && cred.creator_id != p.user {
            self.require_org_admin(p).await?;
        }
        self.revoke_credential_unchecked(&cred, p.user, ctx).await
    }

    async fn revoke_credential_unchecked(
        &self,
        cred: &Credential,
        by: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        if self.store.revoke_credential(cred.id, Some(by), now).await? {
            self.revocations.revoke_credential(cred.id);
            self.audit
                .log(
                    ctx,
                    now,
                    Some(by),
                    AuditAction::CredentialRevoke,
                    Some(self.rids.api_key(cred.id)),
                    AuditOutcome::Success,
                    json!({"kind": cred.kind.as_str()}),
                )
                .await;
        }
        Ok(())
    }

    /// Lists API keys in the session org: admins (with `all`) see every key, others their own.
    pub async fn list_api_keys(
        &self,
        p: &Principal,
        all_if_admin: bool,
        include_deleted: bool,
        include_expired: bool,
        offset: u64,
        limit: u32,
    ) -> CoreResult<Vec<Credential>> {
        let see_all = all_if_admin && self.is_org_admin(p).await?;
        let filter = CredentialFilter {
            user_id: (!see_all).then_some(p.user),
            org_id: Some(p.org),
            kind: Some(CredentialKind::ApiKey),
            include_revoked: include_deleted,
            exclude_expired_at: (!include_expired).then(Utc::now),
        };
        Ok(self.store.list_credentials(&filter, offset, limit).await?)
    }

    /// Resolves a credential secret to its credential and principal, or `NotAuthorized`-style
    /// failure for every bad case alike. A secret not in the read cache is charged to `ip`'s
    /// rate limit before the store is asked, so guessing secrets cannot flood the store.
    pub async fn credential_principal(
        &self,
        secret: &str,
        ip: Option<IpAddr>,
    ) -> CoreResult<(Credential, Principal)> {
        const BAD: CoreError = CoreError::InvalidToken("unknown, revoked or expired credential");
        if !secret.starts_with(&self.config.credentials.prefix) || secret.len() > 512 {
            return Err(BAD);
        }
        let hash = crypto::sha256(secret.as_bytes());
        let CachedCredential {
            credential: cred,
            guest,
        } = match self.cache.credential(&hash) {
            Some(hit) => hit,
            None => {
                self.check_ip_rate(ip)?;
                // The user is unknown until the read, so the stamp is checked afterwards: no
                // change to that user may have landed since the read began.
                let started = self.cache.clock();
                let (cred, m) = self
                    .store
                    .find_credential_with_membership(&hash)
                    .await?
                    .ok_or(BAD)?;
                let stamp = self.cache.stamp_since(cred.user_id, started);
                let guest =
                    m.filter(Membership::is_active).ok_or(BAD)?.kind == MembershipKind::Guest;
                let entry = CachedCredential {
                    credential: cred,
                    guest,
                };
                if let Some(stamp) = stamp {
                    self.cache.put_credential(hash, entry.clone(), stamp);
                }
                entry
            }
        };
        // The lookup matched on the hash; compare again in constant time to be explicit.
        if !crypto::constant_time_eq(&cred.secret_hash, &hash) || !cred.is_usable(Utc::now()) {
            return Err(BAD);
        }
        let p = Principal {
            user: cred.user_id,
            org: cred.org_id,
            guest,
            via: Via::Credential {
                credential: cred.id,
            },
            actor: None,
            amr: vec!["key".into()],
            expires_at: cred.expires_at,
            issued_at: Some(cred.created_at),
        };
        if self.revocations.refuses(&p) {
            return Err(BAD);
        }
        Ok((cred, p))
    }

    /// Exchanges a credential secret for a short-lived access token (at most 24 h, never past
    /// the credential's expiry). No write on this path but the audit queue.
    pub async fn exchange_credential(
        &self,
        secret: &str,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        // The exchange endpoint charges every request to the per-IP limit already.
        let (cred, p) = match self.credential_principal(secret, None).await {
            Ok(x) => x,
            Err(e) => {
                self.audit
                    .log(
                        ctx,
                        Utc::now(),
                        None,
                        AuditAction::CredentialExchange,
                        None,
                        AuditOutcome::Failure,
                        json!({}),
                    )
                    .await;
                return Err(e);
            }
        };
        let now = Utc::now();
        let cap = now + secs(self.config.tokens.api_key_access());
        let exp = cred.expires_at.map_or(cap, |e| e.min(cap));
        let mut claims = self.tokens.claims(
            cred.user_id,
            cred.org_id,
            &cred.id.to_string(),
            now,
            exp,
            vec!["key".into()],
            p.guest,
        );
        claims.akr = Some(self.rids.api_key(cred.id));
        let token = self.tokens.sign(&claims)?;
        self.audit
            .log(
                ctx,
                now,
                Some(cred.user_id),
                AuditAction::CredentialExchange,
                Some(self.rids.api_key(cred.id)),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(IssuedToken {
            token,
            expires_at: exp,
            user: cred.user_id,
            org: cred.org_id,
            guest: p.guest,
        })
    }
}
