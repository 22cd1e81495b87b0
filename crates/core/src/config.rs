//! The core's settings. The binary reads them from TOML (`[auth]`, `[tokens]`, …) and the
//! environment; every field has a safe default so that a zero-config start works.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{JobPermissions, Region, Role};
use crate::password::{HashParams, PasswordPolicy};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoreConfig {
    /// The token issuer (`iss`): this server's public base URL.
    pub public_url: String,
    /// The one audience (`aud`) of every access token, checked on both APIs.
    pub audience: String,
    /// The RID instance name; must never change once RIDs have been issued.
    pub rid_instance: String,
    /// The region this server runs in (Parsable `preferredRegionId`).
    pub region: Region,
    pub passwords: PasswordsConfig,
    pub lockout: LockoutConfig,
    pub tokens: TokensConfig,
    pub credentials: CredentialsConfig,
    pub certificates: CertificatesConfig,
    /// Deployment-wide email allow-list (domains or whole addresses), merged with the stored one.
    pub allowed_email_domains: Vec<String>,
    pub allowed_emails: Vec<String>,
    /// Job permissions per role; a role missing here gets the built-in default.
    pub job_permissions: BTreeMap<Role, JobPermissions>,
    pub rate_limit: RateLimitConfig,
    pub read_cache: ReadCacheConfig,
    /// Nominal sandbox tokens; disabled unless configured.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// Nominal MediaMTX tokens; disabled unless configured.
    #[serde(default)]
    pub mediamtx: MediaMtxConfig,
    /// The OpenID provider.
    #[serde(default)]
    pub oidc: crate::oidc_clients::OidcConfig,
    /// What the pages show: product name, per-org names, logos and accent colours.
    #[serde(default)]
    pub branding: crate::branding::BrandingConfig,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            public_url: "http://127.0.0.1:8080".into(),
            audience: "portcullis".into(),
            rid_instance: "local".into(),
            region: Region {
                id: "local".into(),
                api_host: "127.0.0.1:8080".into(),
                sig_host: "127.0.0.1:8080".into(),
                static_host: "127.0.0.1:8080".into(),
            },
            passwords: PasswordsConfig::default(),
            lockout: LockoutConfig::default(),
            tokens: TokensConfig::default(),
            credentials: CredentialsConfig::default(),
            certificates: CertificatesConfig::default(),
            allowed_email_domains: Vec::new(),
            allowed_emails: Vec::new(),
            job_permissions: BTreeMap::new(),
            rate_limit: RateLimitConfig::default(),
            read_cache: ReadCacheConfig::default(),
            sandbox: Default::default(),
            mediamtx: Default::default(),
            oidc: Default::default(),
            branding: Default::default(),
        }
    }
}

impl CoreConfig {
    /// The default role table: ADMIN and PARSABLE_ADMIN get every flag, other roles the four
    /// job flags and the step flags.
    pub fn job_permissions_for(&self, role: Role) -> JobPermissions {
        if let Some(p) = self.job_permissions.get(&role) {
            return *p;
        }
        match role {
            Role::Admin | Role::ParsableAdmin => JobPermissions::all(),
            _ => JobPermissions::job_and_steps(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordsConfig {
    pub argon2: HashParams,
    pub policy: PasswordPolicy,
    /// Hashing threads; 0 = one per core.
    pub hash_threads: usize,
    /// Jobs that may wait for a hashing thread; past that, password checks are answered
    /// "rate limited" at once (Parsable err 503, HTTP 429) instead of waiting.
    pub hash_queue: usize,
    /// The hashing threads' nice value (0–19, Linux only): under contention token
    /// validation on the async workers wins the CPU, so a login flood cannot stretch its latency.
    pub hash_nice: u8,
    /// The share of the CPU (percent, 0–90) the hashing threads get while logins wait, however
    /// busy the async workers are (`hash_share.rs`); 0 leaves them to the nice value alone.
    pub hash_share_percent: u8,
    /// How long a one-time code from `admin user force-password-reset` stays valid (Keycloak's
    /// default for admin-initiated actions: 12 h).
    pub reset_code_secs: i64,
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        PasswordsConfig {
            argon2: HashParams::default(),
            policy: PasswordPolicy::default(),
            hash_threads: 0,
            hash_queue: 256,
            hash_nice: 10,
            hash_share_percent: 30,
            reset_code_secs: 12 * 3600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutConfig {
    /// Delay after the 1st, 2nd, … consecutive failure; the last value repeats.
    pub delays_secs: Vec<u64>,
    /// Consecutive failures that lock the account (NIST 800-63B: at most 100).
    pub lock_after: i32,
    /// How long a lock lasts; 0 = until an admin unlocks it.
    pub lock_secs: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            delays_secs: vec![1, 3, 5, 10],
            lock_after: 100,
            lock_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// Parsable session tokens (login, SSO, IdP).
    pub session_secs: i64,
    /// Nominal access tokens (getAccessToken, refresh, setUserOrg, API-key exchange): 60 s to
    /// 24 h. A resource server that verifies tokens offline sees a revocation only when the
    /// token expires, so shorter is fresher; clients refresh or re-exchange.
    pub access_secs: i64,
    /// Tokens exchanged from API keys, when shorter than `access_secs` (machines re-exchange
    /// cheaply); 0 = `access_secs`.
    pub api_key_access_secs: i64,
    /// Proxy (impersonation) sessions.
    pub proxy_secs: i64,
    /// Persistent tokens (Parsable `createPersistentAuth`).
    pub persistent_days: i64,
    /// Sessions end after this long without use; 0 = no idle timeout.
    pub idle_timeout_secs: i64,
    /// Clock skew allowed on `exp`/`nbf`.
    pub leeway_secs: u64,
    /// Verified tokens cached in memory (revocation is still checked on every hit).
    pub cache_entries: usize,
}

impl TokensConfig {
    /// The longest a signed token can live (session, access or proxy token, plus the leeway):
    /// how long a retired signing key must keep verifying.
    pub fn max_signed_lifetime(&self) -> chrono::Duration {
        let longest = self.session_secs.max(self.access_secs).max(self.proxy_secs);
        chrono::Duration::seconds(longest.saturating_add(self.leeway_secs as i64))
    }

    /// The bounds of the Nominal access-token lifetimes, checked at start.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_ACCESS_SECS..=MAX_ACCESS_SECS).contains(&self.access_secs) {
            return Err(format!(
                "core.tokens.access_secs must be between {MIN_ACCESS_SECS} and {MAX_ACCESS_SECS}"
            ));
        }
        let key = self.api_key_access_secs;
        if key != 0 && !(MIN_ACCESS_SECS..=self.access_secs).contains(&key) {
            return Err(format!(
                "core.tokens.api_key_access_secs must be 0 or between {MIN_ACCESS_SECS} and access_secs"
            ));
        }
        Ok(())
    }

    /// The lifetime of a token exchanged from an API key.
    pub fn api_key_access(&self) -> i64 {
        if self.api_key_access_secs > 0 {
            self.api_key_access_secs.min(self.access_secs)
        } else {
            self.access_secs
        }
    }
}

/// The shortest Nominal access-token lifetime: below it clients would spend more time
/// refreshing than calling.
pub const MIN_ACCESS_SECS: i64 = 60;
/// The longest: Nominal's own cap (24 h).
pub const MAX_ACCESS_SECS: i64 = 24 * 3600;

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            session_secs: 30 * 24 * 3600,
            access_secs: 24 * 3600,
            api_key_access_secs: 0,
            proxy_secs: 3600,
            persistent_days: 365,
            idle_timeout_secs: 0,
            leeway_secs: 30,
            cache_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialsConfig {
    /// The secret's prefix; Nominal clients expect `nominal_api_key_`.
    pub prefix: String,
    /// Live (not revoked, not expired) API keys one user may hold across all orgs; 0 = no
    /// limit.
    pub max_api_keys_per_user: u32,
}

impl Default for CredentialsConfig {
    fn default() -> Self {
        CredentialsConfig {
            prefix: "nominal_api_key_".into(),
            max_api_keys_per_user: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertificatesConfig {
    pub enabled: bool,
    /// Upper bound of a user certificate's validity.
    pub validity_secs: i64,
    /// `ed25519` or `p256`.
    pub ca_algorithm: String,
    pub ca_common_name: String,
}

impl Default for CertificatesConfig {
    fn default() -> Self {
        CertificatesConfig {
            enabled: true,
            validity_secs: 24 * 3600,
            ca_algorithm: "ed25519".into(),
            ca_common_name: "Portcullis CA".into(),
        }
    }
}

/// In-memory copies of credentials, memberships and users for the hot paths (see
/// `read_cache`). Revocation is still checked on every request; these bound staleness of the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadCacheConfig {
    /// Entries per map (credentials, memberships, users), rounded up to a multiple of 64 (the
    /// shards); 0 turns the cache off.
    pub entries: usize,
    /// An entry is re-read at the latest after this long, whatever the change feed says.
    pub ttl_secs: u64,
}

impl Default for ReadCacheConfig {
    fn default() -> Self {
        ReadCacheConfig {
            entries: 16_384,
            ttl_secs: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second per client IP on credential endpoints.
    pub per_ip_per_sec: u32,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_ip_per_sec: 20,
            burst: 50,
        }
    }
}

/// `[auth.sandbox]`: enabled when `shared_secret`, `org` and `primary_user` are all set.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The value callers send in `X-Nominal-Sandbox-Shared-Secret`.
    pub shared_secret: Option<String>,
    /// The sandbox org: its name or uuid.
    pub org: Option<String>,
    /// Email of the `PRIMARY` sandbox user.
    pub primary_user: Option<String>,
    /// Email of the `SECONDARY` sandbox user.
    pub secondary_user: Option<String>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field(
                "shared_secret",
                &self.shared_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("org", &self.org)
            .field("primary_user", &self.primary_user)
            .field("secondary_user", &self.secondary_user)
            .finish()
    }
}

/// `[auth.mediamtx]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaMtxConfig {
    pub enabled: bool,
    /// An RSA private key in PEM (PKCS#8 or PKCS#1). Without it, a key is generated in memory.
    pub private_key_path: Option<PathBuf>,
    /// The `kid`; by default derived from the public key.
    pub key_id: Option<String>,
}
