//! The OpenID client registry (docs/design/oidc-clients.md): create, update, rotate the secret,
//! disable, enable, delete, for an operator (the CLI) or an org admin (the org-admin API), and
//! the start-up reconciliation of the clients declared in the configuration file.

use std::fmt;

use chrono::TimeDelta;
use zeroize::Zeroizing;

use super::*;
use crate::error::CoreError;
use crate::model::{ClientSecret, GrantType, OAuthClient, Org, OrgId, ServiceAccount};
use crate::oidc_clients::{ClientPatch, ClientSpec, LoadedClient, OidcConfig};
use crate::oidc_clients::{generate_client_secret, uses_secret};

/// Whose clients a caller manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientScope {
    /// Every client (the operator).
    Operator,
    /// Only the clients of this org (its admins): others look unknown, a new one belongs to
    /// it, and the operator-only powers (`first_party`, `introspect_any`, token-exchange
    /// audiences) cannot be turned on.
    Org(OrgId),
}

/// A client and, when one was just made, its secret in plaintext: shown once, never stored.
pub struct IssuedClient {
    pub client: OAuthClient,
    pub secret: Option<Zeroizing<String>>,
}

impl fmt::Debug for IssuedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedClient")
            .field("client", &self.client.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn invalid(m: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(m.into())
}

fn unknown() -> CoreError {
    CoreError::NotFound("client")
}

/// `now + secs`, refused rather than overflowing.
fn later(now: Timestamp, secs: i64) -> CoreResult<Timestamp> {
    TimeDelta::try_seconds(secs)
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| invalid(format!("{secs} seconds is out of range")))
}

/// The client, when `scope` reaches it; another org's client is as unknown as a missing one.
pub async fn find_oauth_client(
    store: &dyn Store,
    scope: ClientScope,
    client_id: &str,
) -> CoreResult<OAuthClient> {
    let c = store
        .get_oauth_client(client_id)
        .await?
        .ok_or_else(unknown)?;
    match scope {
        ClientScope::Org(org) if c.org_id != Some(org) => Err(unknown()),
        _ => Ok(c),
    }
}

/// The clients `scope` reaches, by client id.
pub async fn list_oauth_clients(
    store: &dyn Store,
    scope: ClientScope,
) -> CoreResult<Vec<OAuthClient>> {
    let org = match scope {
        ClientScope::Operator => None,
        ClientScope::Org(org) => Some(org),
    };
    Ok(store.list_oauth_clients(org).await?)
}

/// An org admin keeps the client in the org and cannot grant what only an operator may: skip
/// the consent screen of every user, or read every org's tokens.
fn check_scope(
    scope: ClientScope,
    before: Option<&OAuthClient>,
    after: &OAuthClient,
) -> CoreResult<()> {
    let ClientScope::Org(org) = scope else {
        return Ok(());
    };
    if after.org_id != Some(org) {
        return Err(invalid(
            "orgId: an org admin manages the clients of their own org only",
        ));
    }
    if after.first_party && !before.is_some_and(|b| b.first_party) {
        return Err(CoreError::PermissionDenied(
            "only an operator may make a client first-party (no consent screen)",
        ));
    }
    if after.introspect_any && !before.is_some_and(|b| b.introspect_any) {
        return Err(CoreError::PermissionDenied(
            "only an operator may let a client introspect every token",
        ));
    }
    // Minting tokens for other audiences reaches beyond the org's own applications.
    let widened = after
        .token_exchange_audiences
        .iter()
        .any(|a| !before.is_some_and(|b| b.token_exchange_audiences.contains(a)));
    if widened {
        return Err(CoreError::PermissionDenied(
            "only an operator may let a client exchange tokens for an audience",
        ));
    }
    Ok(())
}

/// The file is a declarative client's source of truth: API and CLI edits would be undone at
/// the next start, so they are refused.
fn refuse_declarative(c: &OAuthClient) -> CoreResult<()> {
    if c.declarative {
        return Err(CoreError::Conflict(format!(
            "client {:?} is declared in the configuration file ([[core.oidc.clients]]); \
             change it there",
            c.client_id
        )));
    }
    Ok(())
}

async fn require_org(store: &dyn Store, org: Option<OrgId>) -> CoreResult<()> {
    if let Some(org) = org
        && store.get_org(org).await?.is_none()
    {
        return Err(invalid(format!("orgId {org} names no org")));
    }
    Ok(())
}

/// What the audit log keeps of a client: never a secret or a hash.
fn detail(c: &OAuthClient) -> Value {
    json!({
        "name": c.name,
        "kind": c.kind,
        "org_id": c.org_id,
        "declarative": c.declarative,
    })
}

/// Registers a client. A secret method gets a fresh secret, returned here once.
pub async fn create_oauth_client(
    uc: &UseCaseCtx<'_>,
    cfg: &OidcConfig,
    scope: ClientScope,
    mut spec: ClientSpec,
) -> CoreResult<IssuedClient> {
    if let ClientScope::Org(org) = scope {
        match spec.org_id {
            None => spec.org_id = Some(org),
            Some(o) if o == org => {}
            Some(_) => {
                return Err(invalid(
                    "orgId: an org admin registers clients of their own org only",
                ));
            }
        }
    }
    let now = Utc::now();
    let mut client = spec.validate(cfg, now)?;
    check_scope(scope, None, &client)?;
    require_org(uc.store, client.org_id).await?;
    let secret = uses_secret(client.token_endpoint_auth).then(|| generate_client_secret(now));
    client
        .secrets
        .extend(secret.iter().map(|s| s.stored.clone()));
    let client = insert(uc, client).await?;
    Ok(IssuedClient {
        client,
        secret: secret.map(|s| s.secret),
    })
}

async fn insert(uc: &UseCaseCtx<'_>, client: OAuthClient) -> CoreResult<OAuthClient> {
    let id = client.client_id.clone();
    let described = detail(&client);
    let store = uc.store;
    let create = async move {
        let wants_account = client.grant_types.contains(&GrantType::ClientCredentials);
        let c = store.create_oauth_client(client).await?;
        service_account_follows_grant(
            store,
            &c.client_id,
            c.org_id,
            wants_account,
            false,
            c.created_at,
        )
        .await?;
        Ok(c)
    };
    uc.audited(
        AuditAction::ClientCreate,
        Some(id.clone()),
        described,
        create,
        |_| json!({}),
    )
    .await
    .map_err(|e| match e {
        CoreError::Store(StoreError::Conflict(_)) => {
            CoreError::Conflict(format!("client id {id:?} is taken"))
        }
        other => other,
    })
}

/// A client given the `client_credentials` grant gets its service account (without roles);
/// one losing it has every token of its account cut off, so the account acts no more (it is
/// kept, with its roles, should the grant come back).
async fn service_account_follows_grant(
    store: &dyn Store,
    client_id: &str,
    org: Option<OrgId>,
    granted: bool,
    gone: bool,
    now: Timestamp,
) -> StoreResult<()> {
    if let (true, Some(org)) = (granted, org) {
        store
            .ensure_service_account(ServiceAccount::new(client_id, org, now))
            .await?;
    }
    if gone {
        store.announce_service_account(client_id, Some(now)).await?;
    }
    Ok(())
}

/// Changes a client's settings. Switching to a secret method from one without a secret issues
/// a fresh secret (returned once) and ends any older one at once.
pub async fn update_oauth_client(
    uc: &UseCaseCtx<'_>,
    cfg: &OidcConfig,
    scope: ClientScope,
    client_id: &str,
    patch: &ClientPatch,
) -> CoreResult<IssuedClient> {
    if patch.is_empty() {
        return Err(invalid("nothing to update"));
    }
    let before = find_oauth_client(uc.store, scope, client_id).await?;
    refuse_declarative(&before)?;
    let now = Utc::now();
    let after = patch
        .apply(&ClientSpec::from(&before))?
        .validate(cfg, now)?;
    check_scope(scope, Some(&before), &after)?;
    let account = uc.store.get_service_account(client_id).await?;
    if after.org_id != before.org_id {
        if let Some(a) = &account {
            return Err(invalid(format!(
                "orgId: the client has a service account in org {}; a client's service account \
                 never changes org (register a new client instead)",
                a.org_id
            )));
        }
        require_org(uc.store, after.org_id).await?;
    }
    let grant_gone = account.is_some()
        && before.grant_types.contains(&GrantType::ClientCredentials)
        && !after.grant_types.contains(&GrantType::ClientCredentials);
    let grant_new = account.is_none() && after.grant_types.contains(&GrantType::ClientCredentials);
    let secret = (uses_secret(after.token_endpoint_auth)
        && !uses_secret(before.token_endpoint_auth))
    .then(|| generate_client_secret(now));
    let new_secret = secret.as_ref().map(|s| s.stored.clone());
    let store = uc.store;
    let change = async move {
        // The secret first: should the update fail, the client keeps its old method.
        if let Some(s) = new_secret {
            store.rotate_client_secret(client_id, s, now).await?;
        }
        let org = after.org_id;
        let updated = store.update_oauth_client(after).await?;
        service_account_follows_grant(store, client_id, org, grant_new, grant_gone, now).await?;
        Ok(updated)
    };
    let client = uc
        .audited(
            AuditAction::ClientUpdate,
            Some(client_id.to_owned()),
            detail(&before),
            change,
            |c: &OAuthClient| json!({ "after": detail(c), "secret_issued": secret.is_some() }),
        )
        .await?;
    uc.clients_changed();
    if let (true, Some(a)) = (grant_gone, account) {
        uc.refresh_user(a.id, now).await?;
    }
    Ok(IssuedClient {
        client,
        secret: secret.map(|s| s.secret),
    })
}

/// A new secret, returned once; the older ones keep working for
/// `core.oidc.secret_rotation_grace_secs`, so the client can be redeployed meanwhile.
pub async fn rotate_oauth_client_secret(
    uc: &UseCaseCtx<'_>,
    cfg: &OidcConfig,
    scope: ClientScope,
    client_id: &str,
) -> CoreResult<IssuedClient> {
    let c = find_oauth_client(uc.store, scope, client_id).await?;
    refuse_declarative(&c)?;
    if !uses_secret(c.token_endpoint_auth) {
        return Err(invalid(format!(
            "client {client_id:?} authenticates with {}: it has no secret to rotate",
            c.token_endpoint_auth
        )));
    }
    let now = Utc::now();
    let grace_end = later(now, cfg.secret_rotation_grace_secs)?;
    let s = generate_client_secret(now);
    uc.audited(
        AuditAction::ClientRotateSecret,
        Some(client_id.to_owned()),
        json!({ "old_secrets_expire_at": grace_end }),
        uc.store
            .rotate_client_secret(client_id, s.stored.clone(), grace_end),
        |_| json!({}),
    )
    .await?;
    uc.clients_changed();
    let client = find_oauth_client(uc.store, scope, client_id).await?;
    Ok(IssuedClient {
        client,
        secret: Some(s.secret),
    })
}

/// Disables the client and ends every grant session it holds, so its tokens stop on every node
/// (through the revocation feed); or enables it again. Allowed on a declarative client too:
/// stopping a client must not wait for a deployment.
pub async fn set_oauth_client_disabled(
    uc: &UseCaseCtx<'_>,
    scope: ClientScope,
    client_id: &str,
    disabled: bool,
) -> CoreResult<OAuthClient> {
    let c = find_oauth_client(uc.store, scope, client_id).await?;
    set_disabled(uc, c, disabled, json!({})).await
}

async fn set_disabled(
    uc: &UseCaseCtx<'_>,
    c: OAuthClient,
    disabled: bool,
    extra: Value,
) -> CoreResult<OAuthClient> {
    let now = Utc::now();
    let store = uc.store;
    let id = c.client_id.clone();
    let (action, at) = if disabled {
        // Disabling again keeps the first time, and ends any session a retry finds.
        (
            AuditAction::ClientDisable,
            Some(c.disabled_at.unwrap_or(now)),
        )
    } else {
        (AuditAction::ClientEnable, None)
    };
    let change = async move {
        let updated = store.set_oauth_client_disabled(&id, at).await?;
        let ended = if disabled {
            store.revoke_client_sessions(&id, now).await?
        } else {
            0
        };
        // Its service account's tokens stop (or, enabled, new ones work) on every node; the
        // cut-off keeps the older ones dead after an enable.
        let account = store
            .announce_service_account(&id, disabled.then_some(now))
            .await?;
        Ok((updated, ended, account))
    };
    let (updated, _, account) = uc
        .audited(
            action,
            Some(c.client_id.clone()),
            merged(detail(&c), extra),
            change,
            |(_, ended, account)| {
                json!({ "sessions_ended": ended, "service_account": account.as_ref().map(|a| a.id) })
            },
        )
        .await?;
    uc.clients_changed();
    if let Some(a) = account {
        uc.refresh_user(a.id, now).await?;
    }
    Ok(updated)
}

/// Deletes the client with its secrets, codes, refresh tokens and consents; its grant sessions
/// end.
pub async fn delete_oauth_client(
    uc: &UseCaseCtx<'_>,
    scope: ClientScope,
    client_id: &str,
) -> CoreResult<()> {
    let c = find_oauth_client(uc.store, scope, client_id).await?;
    refuse_declarative(&c)?;
    let deleted = uc
        .audited(
            AuditAction::ClientDelete,
            Some(client_id.to_owned()),
            detail(&c),
            uc.store.delete_oauth_client(client_id, Utc::now()),
            |_| json!({}),
        )
        .await?;
    uc.clients_changed();
    if deleted { Ok(()) } else { Err(unknown()) }
}

/// What a reconciliation did, by client id.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Declarative clients no longer in the file: disabled and handed back to the API.
    pub retired: Vec<String>,
    /// Declared clients that stay disabled (an operator disabled them, or they were retired
    /// before): enabling is the operator's decision (`admin client enable`).
    pub disabled: Vec<String>,
}

/// Makes the store match the declared clients: each is created, or updated (settings and
/// secret) to match the file, and marked declarative; a declarative client that left the file
/// is disabled, not deleted (its id stays taken, its history kept), and no longer declarative.
pub async fn reconcile_declared_clients(
    uc: &UseCaseCtx<'_>,
    cfg: &OidcConfig,
    declared: Vec<LoadedClient>,
) -> CoreResult<Reconciled> {
    let now = Utc::now();
    let existing = uc.store.list_oauth_clients(None).await?;
    let mut done = Reconciled::default();
    let mut wanted: Vec<(OAuthClient, Option<String>)> = Vec::with_capacity(declared.len());
    // Every declared client is checked before anything is written.
    for d in declared {
        let mut spec = d.spec;
        spec.org_id = match &d.org {
            Some(r) => Some(resolve_org(uc.store, r).await?.id),
            None => None,
        };
        let mut want = spec.validate(cfg, now)?;
        want.declarative = true;
        wanted.push((want, d.secret_hash));
    }
    for (mut want, hash) in wanted {
        let id = want.client_id.clone();
        let Some(have) = existing.iter().find(|c| c.client_id == id) else {
            want.secrets = hash.into_iter().map(|h| secret(h, now)).collect();
            insert(uc, want).await?;
            done.created.push(id);
            continue;
        };
        if have.is_disabled() {
            done.disabled.push(id.clone());
        }
        if !have.declarative {
            tracing::warn!(client_id = %id, "a client made through the API is now declared in the configuration: the file takes it over");
        }
        let settings_same = same_settings(have, &want);
        let secret_same = hash.as_ref().is_none_or(|h| {
            let live: Vec<&str> = have
                .secrets
                .iter()
                .filter(|s| s.is_live(now))
                .map(|s| s.hash.as_str())
                .collect();
            live == [h.as_str()]
        });
        if settings_same && secret_same {
            done.unchanged.push(id);
            continue;
        }
        let new_secret = hash.filter(|_| !secret_same).map(|h| secret(h, now));
        let replaced = new_secret.is_some();
        let have_grant = have.grant_types.contains(&GrantType::ClientCredentials);
        let store = uc.store;
        let client_id = id.clone();
        let change = async move {
            // The file's secret is the one that works: others end now, without grace.
            if let Some(s) = new_secret {
                store.rotate_client_secret(&client_id, s, now).await?;
            }
            if !settings_same {
                let cc = GrantType::ClientCredentials;
                let (had, has) = (have_grant, want.grant_types.contains(&cc));
                let org = want.org_id;
                store.update_oauth_client(want).await?;
                service_account_follows_grant(
                    store,
                    &client_id,
                    org,
                    has && !had,
                    had && !has,
                    now,
                )
                .await?;
            }
            Ok(())
        };
        uc.audited(
            AuditAction::ClientUpdate,
            Some(id.clone()),
            merged(detail(have), json!({ "declarative": true })),
            change,
            |_| json!({ "settings_changed": !settings_same, "secret_replaced": replaced }),
        )
        .await?;
        uc.clients_changed();
        done.updated.push(id);
    }
    let kept: Vec<String> = done_ids(&done).map(str::to_owned).collect();
    let gone: Vec<OAuthClient> = existing
        .into_iter()
        .filter(|c| c.declarative && !kept.contains(&c.client_id))
        .collect();
    for gone in gone {
        let id = gone.client_id.clone();
        let mut handed_back = gone.clone();
        handed_back.declarative = false;
        handed_back.updated_at = now;
        let extra =
            json!({ "reason": "removed from the configuration file", "declarative": false });
        let c = set_disabled(uc, gone, true, extra).await?;
        uc.store.update_oauth_client(handed_back).await?;
        uc.clients_changed();
        tracing::warn!(client_id = %c.client_id, "declared client removed from the configuration: disabled");
        done.retired.push(id);
    }
    for id in &done.disabled {
        tracing::warn!(client_id = %id, "declared client is disabled; enable it with `portcullis admin client enable`");
    }
    Ok(done)
}

fn done_ids(done: &Reconciled) -> impl Iterator<Item = &str> {
    done.created
        .iter()
        .chain(&done.updated)
        .chain(&done.unchanged)
        .map(String::as_str)
}

fn secret(hash: String, now: Timestamp) -> ClientSecret {
    ClientSecret {
        hash,
        created_at: now,
        expires_at: None,
    }
}

/// Equal but for secrets, times and the disabled state, which a settings update leaves alone.
fn same_settings(have: &OAuthClient, want: &OAuthClient) -> bool {
    let strip = |c: &OAuthClient| OAuthClient {
        secrets: Vec::new(),
        disabled_at: None,
        created_at: want.created_at,
        updated_at: want.updated_at,
        ..c.clone()
    };
    strip(have) == strip(want)
}

/// An org by id or name.
async fn resolve_org(store: &dyn Store, reference: &str) -> CoreResult<Org> {
    let r = reference.trim();
    let found = match r.parse::<OrgId>() {
        Ok(id) => store.get_org(id).await?,
        Err(_) => store.get_org_by_name(r).await?,
    };
    found.ok_or_else(|| invalid(format!("core.oidc.clients: org {r:?} does not exist")))
}
