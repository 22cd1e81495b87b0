//! The auth engine: the one entry point both API surfaces call. It owns the hashing pool, the
//! key ring, the revocation view, the token validator and the audit writer.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use serde_json::json;

use crate::audit::{AuditContext, AuditSink};
use crate::certs::{CertSubject, CertificateAuthority, CsrError};
use crate::config::CoreConfig;
use crate::crypto::{self, MasterKey};
use crate::error::{CoreError, CoreResult};
use crate::idle::{IdleTracker, Use};
use crate::keys::KeyRing;
use crate::model::*;
use crate::paging::PageTokens;
use crate::password::{HashPool, Verified};
use crate::read_cache::{CachedCredential, ReadCache};
use crate::revocation::RevocationView;
use crate::rid::Rids;
use crate::store::{CredentialFilter, Store, ThrottleClaim};
use crate::tokens::{AccessTokens, Actor, Principal, TokenFailure, Via};

/// How long one password check holds its login key against parallel attempts.
const CLAIM_HOLD: chrono::Duration = chrono::Duration::seconds(10);
/// Longer than any reset code the admin CLI prints; refused without a look-up.
const MAX_RESET_CODE: usize = 128;
/// Unknown `kid`s trigger at most one key reload per this interval.
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(1);
/// How often the signing keys are re-read, so a rotation elsewhere takes over signing. Caches of
/// the published JWKS should not outlive it.
pub const KEY_REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How often the per-IP limiter forgets clients whose bucket has refilled, so its memory is
/// bounded by the clients of the last minute, not every address ever seen.
const IP_LIMITER_PRUNE_EVERY: Duration = Duration::from_secs(60);

mod credentials;
mod passwords;

/// A freshly issued access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: Timestamp,
    pub user: UserId,
    pub org: OrgId,
    pub guest: bool,
}

/// The result of a login: a new session and its first token.
#[derive(Debug, Clone)]
pub struct LoginGrant {
    pub token: IssuedToken,
    pub session: Session,
    pub user: User,
    /// The super-admin behind a proxy login.
    pub proxy_admin: Option<User>,
}

/// The two ways a session token is re-issued in another org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reissue {
    /// Parsable createTeamToken: scoped to the one team, same expiry.
    TeamToken,
    /// Nominal setUserOrg: acts in the org, at most 24 h.
    SwitchOrg,
}

/// Why an impersonation session gets no client certificate.
const PROXY_CERTIFICATE: &str = "a proxy (impersonation) login cannot get a client certificate";

/// Why a password is checked. Every purpose goes through the same throttle and lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PasswordCheck {
    /// A password login: an account flagged for a reset is refused.
    Login,
    /// A signed-in user proving the current password to change it. An account flagged for a
    /// reset is refused too: the admin forced the reset because the old password may be known
    /// to someone else, so only the one-time code may replace it.
    Change(UserId),
    /// A reset by email and admin-issued one-time code, without a session: how an account
    /// flagged for a reset (which cannot log in) chooses a new password.
    Reset,
}

impl PasswordCheck {
    /// The `via` of a `password.change` audit event; `None` for logins.
    fn via(self) -> Option<&'static str> {
        match self {
            PasswordCheck::Login => None,
            PasswordCheck::Change(_) => Some("session"),
            PasswordCheck::Reset => Some("reset"),
        }
    }
    fn caller(self) -> Option<UserId> {
        match self {
            PasswordCheck::Change(user) => Some(user),
            PasswordCheck::Login | PasswordCheck::Reset => None,
        }
    }
}

/// One of the caller's live sessions.
#[derive(Debug, Clone)]
pub struct OwnSession {
    pub session: Session,
    /// The session of the calling token.
    pub current: bool,
    /// The last use known (stored, or newer in this process).
    pub last_seen: Timestamp,
    /// When the session ends if unused until then (`None` without an idle timeout).
    pub idle_expires_at: Option<Timestamp>,
}

/// The session behind a bearer ([`Engine::current_session`]).
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// `None` for a credential or a token minted from one.
    pub session: Option<Session>,
    /// When the bearer stops being valid at the latest: its own expiry or its session's.
    pub expires_at: Option<Timestamp>,
    /// When the session ends if unused until then (`None` without an idle timeout).
    pub idle_expires_at: Option<Timestamp>,
}

/// Which org a login should act in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgChoice {
    /// The user's default org: the oldest active membership in an enabled org.
    Default,
    /// A specific org; the user must be an active member of it.
    Specific(OrgId),
    /// As `Default`, but a user on no enabled team gets a team-less session
    /// ([`OrgId::NONE`]) instead of `NoMembership` (Parsable team-select logins, §8).
    DefaultOrNone,
}

pub struct Engine {
    store: Arc<dyn Store>,
    config: CoreConfig,
    rids: Rids,
    hasher: HashPool,
    tokens: AccessTokens,
    revocations: Arc<RevocationView>,
    cache: ReadCache,
    audit: AuditSink,
    ip_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    refusal_time: RefusalTime,
    page_tokens: PageTokens,
    ca: Option<Arc<CertificateAuthority>>,
    last_key_reload: Mutex<Option<Instant>>,
    idle: IdleTracker,
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
fn require_own_session(p: &Principal, what: &'static str) -> CoreResult<()> {
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

/// The per-IP limiter's key: the address itself for IPv4, the /64 network for IPv6. One IPv6
/// subscriber or host usually holds a whole /64 and can pick any address in it, so keying by
/// address would give them 2^64 buckets.
pub fn ip_limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// A running average of how long a refused password check takes (hash included), so that a
/// refusal which skips the hash — a locked account — can take as long.
struct RefusalTime(std::sync::atomic::AtomicU64);

impl RefusalTime {
    fn new(seed: Duration) -> RefusalTime {
        RefusalTime(std::sync::atomic::AtomicU64::new(seed.as_nanos() as u64))
    }

    /// Folds in one measured refusal (weight 1/8). Racing updates may lose a sample; the
    /// average stays a plausible duration either way.
    fn record(&self, took: Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let old = self.0.load(Relaxed);
        let took = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.0.store(old - old / 8 + took / 8, Relaxed);
    }

    fn typical(&self) -> Duration {
        Duration::from_nanos(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

fn prune_ip_limiter(limiter: &DefaultKeyedRateLimiter<IpAddr>) -> usize {
    limiter.retain_recent();
    limiter.shrink_to_fit();
    limiter.len()
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
        let rids = Rids::new(&config.rid_instance)
            .map_err(|e| CoreError::InvalidArgument(format!("rid_instance: {e}")))?;
        let now = Utc::now();
        let hasher = HashPool::new(
            config.passwords.argon2,
            config.passwords.hash_threads,
            config.passwords.hash_queue,
            config.passwords.hash_nice,
        )?;
        // Page tokens are MACed with a key derived from, but never equal to, the master key.
        let page_tokens = PageTokens::new(master.derive(b"portcullis page tokens v1"));
        let max_life = config.tokens.max_signed_lifetime();
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
        let keys = Arc::new(KeyRing::load_or_create(store.as_ref(), master, max_life, now).await?);
        let revocations = Arc::new(RevocationView::load(store.as_ref(), now).await?);
        let cache = ReadCache::new(
            revocations.clone(),
            config.read_cache.entries,
            Duration::from_secs(config.read_cache.ttl_secs),
        );
        let tokens = AccessTokens::new(
            keys,
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
        let (audit, writer) = AuditSink::start(store.clone(), 4096);
        let poller = revocations.spawn_poller(store.clone(), Duration::from_millis(250));
        // A rotation by another process (the CLI, a second server) takes over signing here too.
        let key_refresher = {
            let (keys, store) = (tokens.keys().clone(), store.clone());
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
            revocations,
            cache,
            audit,
            ip_limiter,
            page_tokens,
            ca,
            last_key_reload: Mutex::new(None),
            idle,
            background: Mutex::new(vec![poller, key_refresher, pruner]),
            audit_writer: Mutex::new(Some(writer)),
        }))
    }

    /// Stops background work and writes every queued audit event.
    pub async fn shutdown(&self) {
        for h in self.background.lock().drain(..) {
            h.abort();
        }
        self.audit.flush().await;
        let writer = self.audit_writer.lock().take();
        if let Some(w) = writer {
            w.abort();
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
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

    /// Whether a login may ask for a client certificate, checked before the login starts so
    /// that a refusal leaves nothing behind. An impersonation (proxy) login may not: the
    /// certificate would carry the target's identity, outlive the audited proxy session and
    /// prove nothing of who holds it. Without signing a CSR is ignored, so nothing is refused.
    pub fn check_certificate_request(&self, proxied: bool, csr: bool) -> CoreResult<()> {
        if self.ca.is_some() && proxied && csr {
            return Err(CoreError::PermissionDenied(PROXY_CERTIFICATE));
        }
        Ok(())
    }

    /// Signs a PEM CSR for `user`: subject and SAN are the user's, the CSR's key is kept, and the
    /// validity is min(configured, the token's remaining lifetime). `None` when signing is off.
    /// `proxied`: the session is an impersonation, which gets no certificate (see
    /// [`Engine::check_certificate_request`]).
    pub async fn sign_csr(
        &self,
        user: &User,
        csr_pem: &str,
        token_expires_at: Timestamp,
        proxied: bool,
        ctx: &AuditContext,
    ) -> CoreResult<Option<String>> {
        let Some(ca) = &self.ca else { return Ok(None) };
        if proxied {
            return Err(CoreError::PermissionDenied(PROXY_CERTIFICATE));
        }
        let now = Utc::now();
        let not_after = token_expires_at.min(now + secs(self.config.certificates.validity_secs));
        let subject = CertSubject {
            user_id: user.id,
            email: user.email.clone(),
        };
        match ca.sign_csr(csr_pem, &subject, not_after, now) {
            Ok(pem) => {
                self.audit
                    .log(
                        ctx,
                        now,
                        Some(user.id),
                        "certificate.sign",
                        Some(user.id.to_string()),
                        AuditOutcome::Success,
                        json!({"not_after": not_after}),
                    )
                    .await;
                Ok(Some(pem))
            }
            Err(
                e @ (CsrError::Malformed(_)
                | CsrError::BadSignature(_)
                | CsrError::UnsupportedKey(_)),
            ) => Err(CoreError::InvalidArgument(format!(
                "certificate signing request: {e}"
            ))),
            Err(CsrError::Issue(msg)) => Err(CoreError::InvalidArgument(format!(
                "cannot issue a certificate: {msg}"
            ))),
        }
    }

    pub fn page_tokens(&self) -> &PageTokens {
        &self.page_tokens
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
    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.keys().jwks(Utc::now())
    }
    pub async fn flush_audit(&self) {
        self.audit.flush().await;
    }

    /// Rotates the signing key; the old public key stays published.
    pub async fn rotate_signing_key(&self, ctx: &AuditContext) -> CoreResult<String> {
        let kid = self
            .tokens
            .keys()
            .rotate(self.store.as_ref(), Utc::now())
            .await?;
        self.audit
            .log(
                ctx,
                Utc::now(),
                None,
                "keys.rotate",
                Some(kid.clone()),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(kid)
    }

    /// Emergency revocation of a signing key: a new key takes over signing first if `kid` signs
    /// now; from then on `kid` verifies nothing, here at once and elsewhere through the
    /// revocation feed. Returns whether it was not revoked before.
    pub async fn revoke_signing_key(&self, kid: &str, ctx: &AuditContext) -> CoreResult<bool> {
        let now = Utc::now();
        let revoked = self
            .tokens
            .keys()
            .revoke(self.store.as_ref(), kid, now)
            .await
            .map_err(|e| match e {
                crate::keys::KeyError::Store(crate::store::StoreError::NotFound(_)) => {
                    CoreError::NotFound("signing key")
                }
                other => other.into(),
            })?;
        self.revocations.revoke_key(kid.to_owned());
        self.audit
            .log(
                ctx,
                now,
                None,
                "keys.revoke",
                Some(kid.to_owned()),
                AuditOutcome::Success,
                json!({"was_revoked": !revoked}),
            )
            .await;
        Ok(revoked)
    }

    /// The per-client-IP limit on credential endpoints. IPv6 clients are limited per /64 (see
    /// [`ip_limit_key`]).
    pub fn check_ip_rate(&self, ip: Option<IpAddr>) -> CoreResult<()> {
        let Some(ip) = ip else { return Ok(()) };
        match self.ip_limiter.check_key(&ip_limit_key(ip)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                Err(CoreError::RateLimited {
                    retry_after: wait.max(Duration::from_secs(1)),
                })
            }
        }
    }

    /// Forgets the per-IP limiter entries whose bucket has refilled (what the background task
    /// does every minute); returns how many entries remain.
    pub fn prune_ip_limits(&self) -> usize {
        prune_ip_limiter(&self.ip_limiter)
    }

    // ---- sessions -----------------------------------------------------------------------------

    /// Picks the membership a session acts in.
    pub async fn resolve_org(
        &self,
        user: UserId,
        choice: OrgChoice,
    ) -> CoreResult<(Org, Membership)> {
        match choice {
            OrgChoice::Specific(org_id) => {
                let org = self
                    .store
                    .get_org(org_id)
                    .await?
                    .ok_or(CoreError::NotFound("org"))?;
                let m = self
                    .store
                    .get_membership(user, org_id)
                    .await?
                    .filter(Membership::is_active)
                    .ok_or(CoreError::PermissionDenied(
                        "not an active member of the org",
                    ))?;
                if org.disabled {
                    return Err(CoreError::OrgDisabled);
                }
                Ok((org, m))
            }
            OrgChoice::Default | OrgChoice::DefaultOrNone => {
                let mut ms: Vec<Membership> = self
                    .store
                    .list_user_memberships(user, false)
                    .await?
                    .into_iter()
                    .filter(Membership::is_active)
                    .collect();
                ms.sort_by_key(|m| (m.created_at, m.org_id));
                for m in ms {
                    if let Some(org) = self.store.get_org(m.org_id).await?
                        && !org.disabled
                    {
                        return Ok((org, m));
                    }
                }
                Err(CoreError::NoMembership)
            }
        }
    }

    /// Creates a session for an authenticated user and issues its first token.
    /// `proxy_admin` makes it an impersonation session (limited lifetime, `act` claim).
    pub async fn start_session(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        team_scoped: bool,
        proxy_admin: Option<User>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        self.start_session_until(user, amr, choice, team_scoped, proxy_admin, None, ctx)
            .await
    }

    /// [`Engine::start_session`] whose session ends no later than `not_after` (federated
    /// logins: bounded by the upstream token). A bound not in the future is `TokenExpired`.
    #[allow(clippy::too_many_arguments)]
    async fn start_session_until(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        team_scoped: bool,
        proxy_admin: Option<User>,
        not_after: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        if user.deactivated {
            return Err(CoreError::InvalidCredentials);
        }
        let resolved = match self.resolve_org(user.id, choice).await {
            Ok(found) => Some(found),
            Err(CoreError::NoMembership) if choice == OrgChoice::DefaultOrNone => None,
            Err(e) => return Err(e),
        };
        let org_id = resolved.as_ref().map_or(OrgId::NONE, |(o, _)| o.id);
        let now = Utc::now();
        let t = &self.config.tokens;
        let (kind, life) = match &proxy_admin {
            Some(_) => (SessionKind::Proxy, t.proxy_secs),
            None => (SessionKind::Login, t.session_secs),
        };
        let idle = (t.idle_timeout_secs > 0).then_some(t.idle_timeout_secs);
        let end = not_after.map_or(now + secs(life), |n| n.min(now + secs(life)));
        if end <= now {
            return Err(CoreError::TokenExpired);
        }
        let session = self
            .record_session(
                user.id,
                org_id,
                kind,
                amr.clone(),
                proxy_admin.as_ref().map(|a| a.id),
                (now, end),
                idle,
                ctx,
            )
            .await?;
        let guest = resolved
            .as_ref()
            .is_some_and(|(_, m)| m.kind == MembershipKind::Guest);
        let mut claims = self.tokens.claims(
            user.id,
            org_id,
            &session.id.0,
            now,
            session.expires_at,
            amr,
            guest,
        );
        claims.team = team_scoped;
        claims.act = proxy_admin.as_ref().map(|a| Actor { sub: a.id.0 });
        let token = self.tokens.sign(&claims)?;
        let (action, actor) = match &proxy_admin {
            Some(a) => ("impersonation.start", Some(a.id)),
            None => ("login", Some(user.id)),
        };
        self.audit
            .log(
                ctx,
                now,
                actor,
                action,
                Some(user.id.to_string()),
                AuditOutcome::Success,
                json!({"session": session.id.0, "org": resolved.as_ref().map(|(o, _)| o.id), "amr": session.amr}),
            )
            .await;
        Ok(LoginGrant {
            token: IssuedToken {
                token,
                expires_at: session.expires_at,
                user: user.id,
                org: org_id,
                guest,
            },
            session,
            user,
            proxy_admin,
        })
    }

    /// Stores a new session and marks the login in its org.
    #[allow(clippy::too_many_arguments)]
    async fn record_session(
        &self,
        user: UserId,
        org: OrgId,
        kind: SessionKind,
        amr: Vec<String>,
        actor: Option<UserId>,
        (created_at, expires_at): (Timestamp, Timestamp),
        idle_timeout_secs: Option<i64>,
        ctx: &AuditContext,
    ) -> CoreResult<Session> {
        let session = Session {
            id: SessionId::generate(),
            user_id: user,
            org_id: org,
            kind,
            amr,
            actor_id: actor,
            created_at,
            expires_at,
            idle_timeout_secs,
            last_seen_at: created_at,
            revoked_at: None,
            ip: ctx.ip.clone(),
            user_agent: None,
        };
        self.store.create_session(session.clone()).await?;
        if !org.is_none() {
            self.store.touch_last_login(user, org, created_at).await?;
        }
        Ok(session)
    }

    /// Password login, optionally as a proxy for another user. The super-admin check comes
    /// before the target is looked up, so a non-admin learns nothing about other accounts.
    pub async fn login_password(
        &self,
        email: &str,
        password: &str,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let user = self.authenticate_password(email, password, ctx).await?;
        self.finish_login(user, vec!["pwd".into()], choice, proxied_email, ctx)
            .await
    }

    /// Completes a login whose credential has been checked (password or federation).
    pub async fn finish_login(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        self.finish_login_until(user, amr, choice, proxied_email, None, ctx)
            .await
    }

    /// [`Engine::finish_login`] whose session (proxy sessions included) ends no later than
    /// `not_after`: federated logins, bounded by the upstream token's expiry.
    pub async fn finish_login_until(
        &self,
        user: User,
        amr: Vec<String>,
        choice: OrgChoice,
        proxied_email: Option<&str>,
        not_after: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<LoginGrant> {
        let Some(target_email) = proxied_email.filter(|e| !e.trim().is_empty()) else {
            return self
                .start_session_until(user, amr, choice, false, None, not_after, ctx)
                .await;
        };
        let now = Utc::now();
        if !user.super_admin {
            self.audit
                .log(
                    ctx,
                    now,
                    Some(user.id),
                    "impersonation.start",
                    None,
                    AuditOutcome::Denied,
                    json!({"reason": "not a super-admin"}),
                )
                .await;
            return Err(CoreError::PermissionDenied(
                "only a super-admin may log in as another user",
            ));
        }
        let target = self
            .store
            .get_user_by_email(target_email)
            .await?
            .filter(|t| !t.deactivated)
            .ok_or(CoreError::NotFound("user"))?;
        if target.super_admin || target.id == user.id {
            self.audit
                .log(
                    ctx,
                    now,
                    Some(user.id),
                    "impersonation.start",
                    Some(target.id.to_string()),
                    AuditOutcome::Denied,
                    json!({"reason": "target is a super-admin"}),
                )
                .await;
            return Err(CoreError::PermissionDenied(
                "a super-admin cannot be impersonated",
            ));
        }
        let mut amr = amr;
        amr.push("proxy".into());
        self.start_session_until(target, amr, choice, false, Some(user), not_after, ctx)
            .await
    }

    /// Validates an access token or a credential secret.
    pub async fn authenticate(&self, token: &str) -> CoreResult<Principal> {
        self.authenticate_from(token, None).await
    }

    /// [`Engine::authenticate`] for a request from `ip`: a credential secret that is not in the
    /// read cache costs a store look-up, so it is charged to the per-IP limit first.
    pub async fn authenticate_from(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> CoreResult<Principal> {
        let token = token.trim();
        if token.is_empty() {
            return Err(CoreError::Unauthenticated);
        }
        if token.starts_with(&self.config.credentials.prefix) {
            let (_, p) = self.credential_principal(token, ip).await?;
            return Ok(p);
        }
        let now = Utc::now();
        let p = match self.tokens.validate(token, now) {
            Ok((_, p)) => p,
            Err(TokenFailure::UnknownKey) => {
                if self.reload_keys_rate_limited().await {
                    self.tokens.validate(token, now).map(|(_, p)| p)?
                } else {
                    return Err(TokenFailure::UnknownKey.into());
                }
            }
            Err(f) => return Err(f.into()),
        };
        self.check_idle(&p, now).await?;
        Ok(p)
    }

    /// Enforces the session's idle timeout and records the use (see `idle.rs`). An idle session
    /// is ended for good, here and, through the feed, everywhere.
    pub(crate) async fn check_idle(&self, p: &Principal, now: Timestamp) -> CoreResult<()> {
        let Via::Session { session, .. } = &p.via else {
            return Ok(());
        };
        // Off: no look-up at all on the hot path.
        if self.config.tokens.idle_timeout_secs <= 0 {
            return Ok(());
        }
        if self
            .idle
            .use_session(self.store.as_ref(), session, now)
            .await?
            == Use::Live
        {
            return Ok(());
        }
        if self.store.revoke_session(session, now).await? {
            // The session's own expiry, which may outlast this token's.
            let exp = match self.store.get_session(session).await? {
                Some(s) => s.expires_at,
                None => p.expires_at.unwrap_or(now),
            };
            self.revocations.revoke_session(session.clone(), exp);
            self.audit
                .log(
                    &AuditContext::default(),
                    now,
                    Some(p.user),
                    "session.idle_timeout",
                    Some(session.0.clone()),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Err(CoreError::InvalidToken("session ended after inactivity"))
    }

    async fn reload_keys_rate_limited(&self) -> bool {
        {
            let mut last = self.last_key_reload.lock();
            if last.is_some_and(|t| t.elapsed() < KEY_RELOAD_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.tokens.keys().reload(self.store.as_ref()).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "key reload failed");
                false
            }
        }
    }

    /// Ends the token's session. Idempotent: an expired or already-ended token succeeds.
    /// A credential (or a token minted from one) is left alone.
    pub async fn logout(&self, token: &str, ctx: &AuditContext) -> CoreResult<()> {
        let token = token.trim();
        if token.is_empty() {
            return Err(CoreError::Unauthenticated);
        }
        if token.starts_with(&self.config.credentials.prefix) {
            return self.credential_principal(token, None).await.map(|_| ());
        }
        let claims = match self.tokens.verify_ignoring_expiry(token) {
            Ok(c) => c,
            Err(TokenFailure::UnknownKey) if self.reload_keys_rate_limited().await => {
                self.tokens.verify_ignoring_expiry(token)?
            }
            Err(f) => return Err(f.into()),
        };
        if claims.akr.is_some() {
            return Ok(());
        }
        let sid = SessionId(claims.sid.clone());
        let now = Utc::now();
        if self.store.revoke_session(&sid, now).await? {
            let exp = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            self.revocations.revoke_session(sid.clone(), exp);
            self.audit
                .log(
                    ctx,
                    now,
                    Some(UserId(claims.sub)),
                    "logout",
                    Some(sid.0),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Ok(())
    }

    /// Exchanges a session or team token for one scoped to `org` (Parsable createTeamToken):
    /// same session and expiry.
    pub async fn team_token(
        &self,
        p: &Principal,
        org: OrgId,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        let exp = p
            .expires_at
            .ok_or(CoreError::InvalidToken("token without expiry"))?;
        self.reissue_in_org(p, org, exp, Reissue::TeamToken, ctx)
            .await
    }

    /// Mints a token for the same user and session in another org (Nominal setUserOrg): the
    /// calling token's remaining lifetime, never beyond 24 h.
    pub async fn switch_org(
        &self,
        p: &Principal,
        org: OrgId,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        let cap = Utc::now() + secs(self.config.tokens.access_secs);
        let exp = p.expires_at.map_or(cap, |e| e.min(cap));
        self.reissue_in_org(p, org, exp, Reissue::SwitchOrg, ctx)
            .await
    }

    /// A new token for the caller's session in `org`: the shared part of team tokens and org
    /// switches. Credentials (and tokens minted from them) are bound to one org.
    async fn reissue_in_org(
        &self,
        p: &Principal,
        org: OrgId,
        exp: Timestamp,
        kind: Reissue,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        if p.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed(match kind {
                Reissue::TeamToken => "switch team",
                Reissue::SwitchOrg => "switch org",
            }));
        }
        let session = p
            .session()
            .cloned()
            .ok_or(CoreError::InvalidToken("not a session token"))?;
        let (org, m) = self.resolve_org(p.user, OrgChoice::Specific(org)).await?;
        let now = Utc::now();
        let guest = m.kind == MembershipKind::Guest;
        let mut claims =
            self.tokens
                .claims(p.user, org.id, &session.0, now, exp, p.amr.clone(), guest);
        // A team token stays bound when it switches org: never an org-wide (super-admin) token.
        claims.team = kind == Reissue::TeamToken || p.is_org_bound();
        claims.act = p.actor.map(|a| Actor { sub: a.0 });
        let token = self.tokens.sign(&claims)?;
        let action = match kind {
            Reissue::TeamToken => "token.team",
            Reissue::SwitchOrg => {
                self.store.touch_last_login(p.user, org.id, now).await?;
                "token.switch_org"
            }
        };
        self.audit
            .log(
                ctx,
                now,
                Some(p.user),
                action,
                Some(org.id.to_string()),
                AuditOutcome::Success,
                json!({"session": session.0}),
            )
            .await;
        Ok(IssuedToken {
            token,
            expires_at: exp,
            user: p.user,
            org: org.id,
            guest,
        })
    }

    /// The caller's live sessions, the calling one marked. An impersonating admin may look
    /// (the CLI shows the same); a credential may not, as it is no sign-in of the user.
    pub async fn list_my_sessions(&self, p: &Principal) -> CoreResult<Vec<OwnSession>> {
        if p.is_credential_based() {
            return Err(CoreError::CredentialNotAllowed("manage sessions"));
        }
        let now = Utc::now();
        let sessions = self.store.list_user_sessions(p.user, false, now).await?;
        let enforced = self.config.tokens.idle_timeout_secs > 0;
        Ok(sessions
            .into_iter()
            // Idle past its timeout: ended at its next use, so not listed as live.
            .filter(|s| !(enforced && self.idle.is_idle(s, now)))
            .map(|session| {
                let activity = self.idle.activity(&session);
                OwnSession {
                    current: p.session() == Some(&session.id),
                    last_seen: activity.last_seen,
                    idle_expires_at: activity.idle_expires_at.filter(|_| enforced),
                    session,
                }
            })
            .collect())
    }

    /// What a valid bearer stands for, for resource servers that check a token online instead
    /// of (or besides) verifying it offline. The caller has passed [`Engine::authenticate`], so
    /// it is genuine, unexpired and not revoked, and the check counted as a use.
    pub async fn current_session(&self, p: &Principal) -> CoreResult<CurrentSession> {
        let token_expires_at = p.expires_at;
        let Some(sid) = p.session() else {
            // A credential, or a token minted from one: it has no session and no idle timeout.
            return Ok(CurrentSession {
                session: None,
                expires_at: token_expires_at,
                idle_expires_at: None,
            });
        };
        let session = self
            .store
            .get_session(sid)
            .await?
            .ok_or(CoreError::InvalidToken("unknown session"))?;
        let enforced = self.config.tokens.idle_timeout_secs > 0;
        let activity = self.idle.activity(&session);
        Ok(CurrentSession {
            expires_at: Some(
                token_expires_at.map_or(session.expires_at, |t| t.min(session.expires_at)),
            ),
            idle_expires_at: activity.idle_expires_at.filter(|_| enforced),
            session: Some(session),
        })
    }

    /// Ends one of the caller's own sessions. Another user's session is `NotFound`, like an
    /// unknown id, so ids cannot be probed.
    pub async fn end_my_session(
        &self,
        p: &Principal,
        sid: &SessionId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        require_own_session(p, "manage sessions")?;
        let s = self
            .store
            .get_session(sid)
            .await?
            .filter(|s| s.user_id == p.user)
            .ok_or(CoreError::NotFound("session"))?;
        self.end_session(&s, Some(p.user), ctx).await
    }

    /// Ends every session of the caller but the calling one. Returns how many ended.
    pub async fn end_my_other_sessions(
        &self,
        p: &Principal,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        require_own_session(p, "manage sessions")?;
        self.end_user_sessions(p.user, p.session(), Some(p.user), ctx)
            .await
    }

    async fn end_session(
        &self,
        s: &Session,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        if self.store.revoke_session(&s.id, now).await? {
            self.revocations.revoke_session(s.id.clone(), s.expires_at);
            self.audit
                .log(
                    ctx,
                    now,
                    actor,
                    "session.end",
                    Some(s.id.0.clone()),
                    AuditOutcome::Success,
                    json!({}),
                )
                .await;
        }
        Ok(())
    }

    /// Ends every session of a user (admin), or all but `keep` (password change).
    pub async fn end_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        let now = Utc::now();
        let n = self.store.revoke_user_sessions(user, keep, now).await?;
        self.user_revoked(ctx, actor, user, "session.end_all", n, now)
            .await?;
        Ok(n)
    }

    /// Revokes every API key and persistent token of the user, in every org.
    pub async fn revoke_user_credentials(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<u64> {
        let now = Utc::now();
        let n = self.store.revoke_user_credentials(user, actor, now).await?;
        self.user_revoked(ctx, actor, user, "credential.revoke_all", n, now)
            .await?;
        Ok(n)
    }

    /// After a bulk revocation for `user`: the view re-reads the user at once (the feed tells
    /// other processes) and the count is audited under `action`.
    async fn user_revoked(
        &self,
        ctx: &AuditContext,
        actor: Option<UserId>,
        user: UserId,
        action: &str,
        count: u64,
        now: Timestamp,
    ) -> CoreResult<()> {
        self.revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                actor,
                action,
                Some(user.to_string()),
                AuditOutcome::Success,
                json!({"count": count}),
            )
            .await;
        Ok(())
    }

    /// Global deactivation: every session and credential of the user ends.
    pub async fn deactivate_user(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        let d = self.store.deactivate_user(user, now).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                actor,
                "user.deactivate",
                Some(user.to_string()),
                AuditOutcome::Success,
                json!({"sessions": d.sessions_revoked, "credentials": d.credentials_revoked}),
            )
            .await;
        Ok(())
    }

    pub async fn reactivate_user(
        &self,
        user: UserId,
        actor: Option<UserId>,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        let now = Utc::now();
        self.store.reactivate_user(user).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), user, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                actor,
                "user.reactivate",
                Some(user.to_string()),
                AuditOutcome::Success,
                json!({}),
            )
            .await;
        Ok(())
    }

    /// Per-org deactivation by an org admin (Nominal deactivateUser): blocks new tokens there and
    /// revokes the user's sessions and credentials in that org.
    pub async fn deactivate_in_org(
        &self,
        admin: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_org_admin(admin).await?;
        if target == admin.user {
            return Err(CoreError::InvalidArgument(
                "an admin cannot deactivate themselves".into(),
            ));
        }
        self.store
            .get_membership(target, admin.org)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or(CoreError::NotFound("user"))?;
        let now = Utc::now();
        let d = self
            .store
            .deactivate_membership(target, admin.org, Some(admin.user), now)
            .await?;
        self.revocations
            .refresh_user(self.store.as_ref(), target, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                Some(admin.user),
                "membership.deactivate",
                Some(target.to_string()),
                AuditOutcome::Success,
                json!({"org": admin.org, "sessions": d.sessions_revoked, "credentials": d.credentials_revoked}),
            )
            .await;
        Ok(())
    }

    pub async fn reactivate_in_org(
        &self,
        admin: &Principal,
        target: UserId,
        ctx: &AuditContext,
    ) -> CoreResult<()> {
        self.require_org_admin(admin).await?;
        self.store
            .get_membership(target, admin.org)
            .await?
            .filter(|m| m.removed_at.is_none())
            .ok_or(CoreError::NotFound("user"))?;
        let now = Utc::now();
        self.store.reactivate_membership(target, admin.org).await?;
        self.revocations
            .refresh_user(self.store.as_ref(), target, now)
            .await?;
        self.audit
            .log(
                ctx,
                now,
                Some(admin.user),
                "membership.reactivate",
                Some(target.to_string()),
                AuditOutcome::Success,
                json!({"org": admin.org}),
            )
            .await;
        Ok(())
    }

    /// The caller's membership in its session org, which must hold ADMIN.
    pub async fn require_org_admin(&self, p: &Principal) -> CoreResult<Membership> {
        self.membership(p.user, p.org)
            .await?
            .filter(Membership::is_admin)
            .ok_or(CoreError::PermissionDenied("not an admin of the org"))
    }

    /// A membership row, through the read cache.
    pub async fn membership(&self, user: UserId, org: OrgId) -> CoreResult<Option<Membership>> {
        if let Some(m) = self.cache.membership(user, org) {
            return Ok(m);
        }
        let stamp = self.cache.epoch(user);
        let m = self.store.get_membership(user, org).await?;
        self.cache.put_membership(user, org, m.clone(), stamp);
        Ok(m)
    }

    /// The user behind a validated caller (the proxied user on a proxy session), through the
    /// read cache. Its password hash is not included.
    pub async fn current_user(&self, p: &Principal) -> CoreResult<User> {
        if let Some(u) = self.cache.user(p.user) {
            return Ok(u);
        }
        let stamp = self.cache.epoch(p.user);
        let mut user = self
            .store
            .get_user(p.user)
            .await?
            .ok_or(CoreError::InvalidToken("unknown user"))?;
        user.password_hash = None;
        self.cache.put_user(user.clone(), stamp);
        Ok(user)
    }

    pub async fn is_org_admin(&self, p: &Principal) -> CoreResult<bool> {
        match self.require_org_admin(p).await {
            Ok(_) => Ok(true),
            Err(CoreError::PermissionDenied(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Issues an access token for a user in an org without a new login (federation and sandbox
    /// flows, which create their own session record first).
    pub async fn issue_access_token(
        &self,
        user: &User,
        choice: OrgChoice,
        amr: Vec<String>,
        max_expiry: Option<Timestamp>,
        ctx: &AuditContext,
    ) -> CoreResult<IssuedToken> {
        let (org, m) = self.resolve_org(user.id, choice).await?;
        let now = Utc::now();
        let t = &self.config.tokens;
        let cap = now + secs(t.access_secs);
        let exp = max_expiry.map_or(cap, |e| e.min(cap));
        // A session like any login's: the idle timeout applies to it too.
        let idle = (t.idle_timeout_secs > 0).then_some(t.idle_timeout_secs);
        let session = self
            .record_session(
                user.id,
                org.id,
                SessionKind::Login,
                amr.clone(),
                None,
                (now, exp),
                idle,
                ctx,
            )
            .await?;
        let guest = m.kind == MembershipKind::Guest;
        let claims = self
            .tokens
            .claims(user.id, org.id, &session.id.0, now, exp, amr, guest);
        let token = self.tokens.sign(&claims)?;
        self.audit
            .log(
                ctx,
                now,
                Some(user.id),
                "token.issue",
                Some(user.id.to_string()),
                AuditOutcome::Success,
                json!({"org": org.id, "session": session.id.0}),
            )
            .await;
        Ok(IssuedToken {
            token,
            expires_at: exp,
            user: user.id,
            org: org.id,
            guest,
        })
    }
}
