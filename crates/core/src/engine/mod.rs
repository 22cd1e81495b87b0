//! The auth engine: the one entry point both API surfaces call. It owns the hashing pool, the
//! signing key rings, the revocation view, the token validator and the audit writer.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use serde_json::json;

use crate::audit::{AuditAction, AuditContext, AuditSink, AuditWriter};
use crate::certs::{CertSubject, CertificateAuthority, CsrError};
use crate::config::CoreConfig;
use crate::crypto::{self, MasterKey};
use crate::error::{CoreError, CoreResult};
use crate::idle::{IdleTracker, Use};
use crate::keys::SigningKeys;
use crate::last_login::LastLogins;
use crate::model::*;
use crate::paging::PageTokens;
use crate::password::{HashPool, Verified};
use crate::read_cache::{CachedCredential, ReadCache};
use crate::revocation::RevocationView;
use crate::rid::Rids;
use crate::store::{CredentialFilter, Store, ThrottleClaim};
use crate::tokens::{AccessTokens, Actor, Principal, TokenFailure, Via};

/// How often the signing keys are re-read, so a rotation elsewhere takes over signing. Caches of
/// the published JWKS should not outlive it.
pub const KEY_REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How often the per-IP limiter forgets clients whose bucket has refilled, so its memory is
/// bounded by the clients of the last minute, not every address ever seen.
const IP_LIMITER_PRUNE_EVERY: Duration = Duration::from_secs(60);

mod certificates;
mod credentials;
mod impersonation;
mod lifecycle;
mod login;
mod login_request;
mod login_result;
mod membership;
pub(crate) mod passkey_check;
mod passwords;
mod rate_limit;
mod second_factor;
mod sessions;
mod signing_keys;
mod tokens;

pub use impersonation::AMR_PROXY;
pub use login::{LoginGrant, OrgChoice};
pub use login_request::{LoginCredential, LoginOutcome, LoginRequest, OrgSelectOutcome};
pub use login_result::{AuthPeriods, LoginData, OrgOption, OrgView, WARNING_LEAD_SECS};
pub use rate_limit::ip_limit_key;
pub(crate) use second_factor::{CheckOutcome, FactorPurpose};
pub use second_factor::{RECENT_AUTH_SECS, SecondFactorProof};
pub use sessions::{CurrentSession, OwnSession};
pub use tokens::IssuedToken;

use passwords::RefusalTime;
use rate_limit::prune_ip_limiter;

pub struct Engine {
    store: Arc<dyn Store>,
    config: CoreConfig,
    rids: Rids,
    hasher: HashPool,
    tokens: AccessTokens,
    keys: Arc<SigningKeys>,
    revocations: Arc<RevocationView>,
    cache: ReadCache,
    audit: AuditSink,
    ip_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    refusal_time: RefusalTime,
    page_tokens: PageTokens,
    /// Seals pending OpenID authorization requests (never the master key itself).
    oidc_seal: MasterKey,
    /// Seals second-factor secrets (TOTP), a subkey of the master key.
    factor_seal: MasterKey,
    ca: Option<Arc<CertificateAuthority>>,
    last_key_reload: Mutex<Option<Instant>>,
    idle: IdleTracker,
    last_logins: Arc<LastLogins>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    audit_writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("backend", &self.store.backend())
            .finish()
    }
}

fn secs(d: i64) -> chrono::Duration {
    chrono::Duration::seconds(d)
}

/// Changes to the account itself need the user's own sign-in: not a credential (a machine's),
/// not an impersonating admin's session.
pub(crate) fn require_own_session(p: &Principal, what: &'static str) -> CoreResult<()> {
    if p.is_credential_based() {
        return Err(CoreError::CredentialNotAllowed(what));
    }
    if p.actor.is_some() {
        return Err(CoreError::PermissionDenied(
            "an impersonation session cannot change the account",
        ));
    }
    Ok(())
}

impl Engine {
    /// Loads keys and revocation state, creating keys on first start, and starts the
    /// background tasks (revocation feed, audit writer).
    pub async fn start(
        store: Arc<dyn Store>,
        config: CoreConfig,
        master: MasterKey,
    ) -> CoreResult<Arc<Engine>> {
        config.passwords.argon2.validate()?;
        config
            .tokens
            .validate()
            .map_err(CoreError::InvalidArgument)?;
        config.oidc.validate().map_err(CoreError::InvalidArgument)?;
        config
            .branding
            .validate()
            .map_err(CoreError::InvalidArgument)?;
        let rids = Rids::new(&config.rid_instance)
            .map_err(|e| CoreError::InvalidArgument(format!("rid_instance: {e}")))?;
        let now = Utc::now();
        let hasher = HashPool::new(
            config.passwords.argon2,
            config.passwords.hash_threads,
            config.passwords.hash_queue,
            config.passwords.hash_nice,
        )?;
        crate::hash_share::validate_share(config.passwords.hash_share_percent)
            .map_err(CoreError::InvalidArgument)?;
        // Page tokens are MACed with a key derived from, but never equal to, the master key.
        let page_tokens = PageTokens::new(master.derive(b"portcullis page tokens v1"));
        let oidc_seal = master.subkey(b"portcullis oidc requests v1");
        let factor_seal = master.subkey(b"portcullis factor secrets v1");
        // A key signs OpenID access and ID tokens too, so it verifies until the longest expires.
        let max_life = config.tokens.max_signed_lifetime().max(secs(
            config
                .oidc
                .max_access_token_secs
                .max(config.oidc.id_token_secs)
                + config.tokens.leeway_secs as i64,
        ));
        let ca = if config.certificates.enabled {
            let ca = CertificateAuthority::load_or_create(
                store.as_ref(),
                &master,
                &config.certificates,
                now,
            )
            .await
            .map_err(|e| CoreError::Internal(format!("certificate authority: {e}")))?;
            Some(Arc::new(ca))
        } else {
            None
        };
        let keys = Arc::new(SigningKeys::load(store.as_ref(), master, max_life, now).await?);
        let revocations = Arc::new(RevocationView::load(store.as_ref(), now).await?);
        let cache = ReadCache::new(
            revocations.clone(),
            config.read_cache.entries,
            Duration::from_secs(config.read_cache.ttl_secs),
        );
        let tokens = AccessTokens::new(
            keys.eddsa().clone(),
            revocations.clone(),
            config.public_url.clone(),
            config.audience.clone(),
            config.tokens.leeway_secs,
            config.tokens.cache_entries,
        );
        let per_sec =
            NonZeroU32::new(config.rate_limit.per_ip_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_limit.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let ip_limiter = Arc::new(RateLimiter::keyed(
            Quota::per_second(per_sec).allow_burst(burst),
        ));
        // Spawned with the other background tasks, once nothing below can fail.
        let hash_reserve = tokio::spawn(crate::hash_share::reserve(
            hasher.clone(),
            config.passwords.hash_share_percent,
        ));
        let pruner = {
            let limiter = ip_limiter.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(IP_LIMITER_PRUNE_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    prune_ip_limiter(&limiter);
                }
            })
        };
        let idle = IdleTracker::new(config.tokens.cache_entries);
        let last_logins = Arc::new(LastLogins::new(config.tokens.cache_entries));
        let last_login_writer = {
            let (pending, store) = (last_logins.clone(), store.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(crate::last_login::FLUSH_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let _ = write_last_logins(&pending, store.as_ref(), false).await;
                }
            })
        };
        let (audit, writer) = AuditSink::start(store.clone(), 4096);
        let poller = revocations.spawn_poller(store.clone(), Duration::from_millis(250));
        // A rotation by another process (the CLI, a second server) takes over signing here too.
        let key_refresher = {
            let (keys, store) = (keys.clone(), store.clone());
            let view = revocations.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(KEY_REFRESH_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    // A revoked key must stop signing here as soon as the feed reports it.
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = view.key_revoked() => {}
                    }
                    if let Err(e) = keys.reload(store.as_ref()).await {
                        tracing::warn!(error = %e, "signing key refresh failed; will retry");
                    }
                }
            })
        };
        let refusal_time = RefusalTime::new(hasher.calibration());
        Ok(Arc::new(Engine {
            store,
            config,
            rids,
            hasher,
            refusal_time,
            tokens,
            keys,
            revocations,
            cache,
            audit,
            ip_limiter,
            page_tokens,
            oidc_seal,
            factor_seal,
            ca,
            last_key_reload: Mutex::new(None),
            idle,
            last_logins,
            background: Mutex::new(vec![
                poller,
                key_refresher,
                pruner,
                hash_reserve,
                last_login_writer,
            ]),
            audit_writer: Mutex::new(Some(writer)),
        }))
    }

    /// Runs `work` as a background task of the engine: aborted by [`Engine::shutdown`].
    pub(crate) fn spawn_background(
        &self,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let mut tasks = self.background.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(tokio::spawn(work));
    }

    /// Stops background work, writes the pending last-login times and every queued audit event.
    pub async fn shutdown(&self) {
        for h in self.background.lock().drain(..) {
            h.abort();
        }
        let _ = self.flush_last_logins().await;
        self.audit.flush().await;
        let writer = self.audit_writer.lock().take();
        if let Some(w) = writer {
            w.abort();
        }
    }

    /// The store port: core use cases only. Surfaces and federation call use cases, and the
    /// binary and tests keep the store handle they opened.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }
    pub fn rids(&self) -> &Rids {
        &self.rids
    }
    /// The certificate authority, when certificate signing is enabled.
    pub fn certificate_authority(&self) -> Option<&Arc<CertificateAuthority>> {
        self.ca.as_ref()
    }

    pub(crate) fn oidc_seal(&self) -> &MasterKey {
        &self.oidc_seal
    }
    pub fn page_tokens(&self) -> &PageTokens {
        &self.page_tokens
    }
    pub(crate) fn read_cache(&self) -> &ReadCache {
        &self.cache
    }
    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }
    pub fn hasher(&self) -> &HashPool {
        &self.hasher
    }
    pub fn revocations(&self) -> &Arc<RevocationView> {
        &self.revocations
    }
    pub fn access_tokens(&self) -> &AccessTokens {
        &self.tokens
    }
    pub async fn flush_audit(&self) {
        self.audit.flush().await;
    }

    /// Writes every pending last-login time now (readers of those times, shutdown).
    pub async fn flush_last_logins(&self) -> CoreResult<()> {
        Ok(write_last_logins(&self.last_logins, self.store.as_ref(), true).await?)
    }
}

/// Writes the pending last-login times that are due (all when `force`); on failure they stay
/// pending.
async fn write_last_logins(
    pending: &LastLogins,
    store: &dyn Store,
    force: bool,
) -> crate::store::StoreResult<()> {
    let due = pending.take(Utc::now(), force);
    if due.is_empty() {
        return Ok(());
    }
    let written = store.record_last_logins(&due).await;
    if let Err(e) = &written {
        tracing::warn!(error = %e, "could not store last-login times; will retry");
        pending.restore(&due);
    }
    written
}
