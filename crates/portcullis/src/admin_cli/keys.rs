//! `admin keys`: list, rotate and revoke token-signing keys (EdDSA for access tokens, RS256 and
//! ES256 for ID tokens), through the core use cases.

use clap::Subcommand;

use super::*;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys of every algorithm (or of `--alg`), each oldest first, with their
    /// retirement time.
    List {
        #[arg(long, value_parser = parse_alg)]
        alg: Option<IdTokenAlg>,
    },
    /// Add a new signing key of `--alg` (EdDSA by default: access tokens); the current one
    /// retires but keeps verifying the tokens it signed until they expire. Running servers pick
    /// the new key up without a restart.
    Rotate {
        #[arg(long, value_parser = parse_alg, default_value = "EdDSA")]
        alg: IdTokenAlg,
    },
    /// Emergency: revoke a key of any algorithm (`--alg`, when given, must be its algorithm).
    /// It verifies nothing from then on, on every running server within a second (through the
    /// revocation feed); if it signs now, a new key of its algorithm takes over.
    Revoke {
        kid: String,
        #[arg(long, value_parser = parse_alg)]
        alg: Option<IdTokenAlg>,
    },
}

/// `RS256`, `ES256` or `EdDSA`.
fn parse_alg(s: &str) -> Result<IdTokenAlg, String> {
    s.parse()
}

#[derive(Serialize)]
struct KeyView {
    kid: String,
    algorithm: String,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

pub(super) async fn keys(
    cfg: &Config,
    admin: &Admin,
    json: bool,
    cmd: &KeysCommand,
) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List { alg } => {
            let keys: Vec<KeyView> = admin
                .signing_keys()
                .await?
                .into_iter()
                .filter(|k| alg.is_none_or(|a| k.algorithm == a.as_str()))
                .map(|k| KeyView {
                    kid: k.kid,
                    algorithm: k.algorithm,
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                    revoked_at: k.revoked_at,
                })
                .collect();
            emit(json, &keys, || {
                keys.iter()
                    .map(|k| match k.retired_at {
                        _ if k.revoked_at.is_some() => format!(
                            "{}  {}  created {}  REVOKED {}",
                            k.kid,
                            k.algorithm,
                            k.created_at,
                            k.revoked_at.unwrap_or(k.created_at)
                        ),
                        Some(r) => format!(
                            "{}  {}  created {}  retired {}",
                            k.kid, k.algorithm, k.created_at, r
                        ),
                        None => format!(
                            "{}  {}  created {}  (signing)",
                            k.kid, k.algorithm, k.created_at
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        KeysCommand::Rotate { alg } => {
            let keys = open_keys(cfg, admin, "before rotating keys").await?;
            let r = admin
                .rotate_signing_key(&keys, *alg)
                .await
                .context("rotation failed")?;
            emit(json, &r, || match &r.retired {
                Some(old) => format!("new {} signing key {} (retired {old})", r.alg, r.kid),
                None => format!("new {} signing key {} (its first)", r.alg, r.kid),
            })
        }
        KeysCommand::Revoke { kid, alg } => {
            let keys = open_keys(cfg, admin, "first").await?;
            let r = match admin.revoke_signing_key(&keys, kid, *alg).await {
                Err(AdminError::NotFound(_)) => {
                    bail!("no signing key {kid:?} (see `admin keys list`)")
                }
                r => r.context("revocation failed")?,
            };
            emit(json, &r, || {
                format!(
                    "revoked {} signing key {}{}; signing with {}",
                    r.alg,
                    r.kid,
                    if r.already_revoked {
                        " (already revoked)"
                    } else {
                        ""
                    },
                    r.signing_kid.as_deref().unwrap_or("(none)")
                )
            })
        }
    }
}

/// The signing key rings, opened with the master key of a server that has started once.
pub(super) async fn open_keys(
    cfg: &Config,
    admin: &Admin,
    when: &str,
) -> anyhow::Result<SigningKeys> {
    let master = match crate::keyfile::plan(&cfg.server.key_file())? {
        crate::keyfile::KeyPlan::Env(k) | crate::keyfile::KeyPlan::File(k, _) => k,
        crate::keyfile::KeyPlan::Create(..) => {
            bail!("no master key: start the server once (or set PORTCULLIS_MASTER_KEY) {when}")
        }
    };
    SigningKeys::load(
        admin.store().as_ref(),
        master,
        cfg.core.tokens.max_signed_lifetime(),
        Utc::now(),
    )
    .await
    .context("cannot open the signing keys")
}
