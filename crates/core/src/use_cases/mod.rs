//! Use cases that both the engine (for API callers) and the operator service
//! ([`crate::admin::Admin`], for the CLI and the org-admin API) run: one implementation each
//! that writes, revokes and audits. They take the parts they need, not an `Engine`, because the
//! CLI runs without one. Who may call them (an org admin, an operator) is the caller's check.

use std::future::Future;
use std::pin::Pin;

use chrono::Utc;
use serde_json::{Value, json};

use crate::audit::{AuditAction, AuditContext, AuditWriter, event};
use crate::error::CoreResult;
use crate::model::{AuditEvent, AuditOutcome, Timestamp, UserId};
use crate::revocation::RevocationView;
use crate::store::{Store, StoreError, StoreResult, WriteTx};

mod accounts;
mod consents;
mod memberships;
mod oauth_clients;
mod orgs;
mod service_accounts;
mod signing_keys;

pub use accounts::*;
pub use consents::*;
pub use memberships::*;
pub use oauth_clients::*;
pub use orgs::*;
pub use service_accounts::*;
pub use signing_keys::*;

/// The writes of one unit, given the open transaction.
pub type UnitWrites<'t, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 't>>;

/// What a use case runs with besides its input.
#[derive(Clone, Copy)]
pub struct UseCaseCtx<'a> {
    pub store: &'a dyn Store,
    /// The running server's revocation view, updated at once; `None` from the CLI, whose
    /// changes reach servers through the store's revocation feed.
    pub revocations: Option<&'a RevocationView>,
    pub audit: AuditWriter<'a>,
    /// The request's ip and id, when there is one.
    pub request: &'a AuditContext,
    /// Who acts: recorded as the actor.
    pub actor: Option<UserId>,
    /// The path (e.g. `cli`): recorded as `"via"` in the detail when set.
    pub via: Option<&'a str>,
}

/// No request behind the change (the CLI).
pub const NO_REQUEST: AuditContext = AuditContext {
    ip: None,
    request_id: None,
};

impl<'a> UseCaseCtx<'a> {
    /// No server, request, actor or path behind the change: audited straight to the store.
    pub fn direct(store: &'a dyn Store) -> Self {
        UseCaseCtx {
            store,
            revocations: None,
            audit: AuditWriter::Direct(store),
            request: &NO_REQUEST,
            actor: None,
            via: None,
        }
    }
}

impl UseCaseCtx<'_> {
    /// One audit event, with `"via"` added to an object detail.
    fn event(
        &self,
        action: AuditAction,
        target: Option<String>,
        outcome: AuditOutcome,
        mut detail: Value,
    ) -> AuditEvent {
        if let (Value::Object(map), Some(via)) = (&mut detail, self.via) {
            map.insert("via".into(), json!(via));
        }
        event(
            self.request,
            Utc::now(),
            self.actor,
            action,
            target,
            outcome,
            detail,
        )
    }

    /// Appends one event, with `"via"` added to an object detail.
    pub async fn audit(
        &self,
        action: AuditAction,
        target: Option<String>,
        outcome: AuditOutcome,
        detail: Value,
    ) -> CoreResult<()> {
        let e = self.event(action, target, outcome, detail);
        Ok(self.audit.write(e).await?)
    }

    /// Audits a failed change (after its rollback); a failure to audit is only logged, so the
    /// caller sees the change's error.
    async fn audit_failure(
        &self,
        action: AuditAction,
        target: Option<String>,
        detail: Value,
        error: &StoreError,
    ) {
        let detail = merged(detail, json!({ "error": error.to_string() }));
        if let Err(audit_err) = self
            .audit(action, target, AuditOutcome::Failure, detail)
            .await
        {
            tracing::warn!(error = %audit_err, action = action.as_str(), "could not audit a failed action");
        }
    }

    /// Runs `writes` in one unit of work and appends the success audit event in the same unit,
    /// so the record commits with the change. On failure nothing is written and the failure is
    /// audited after the rollback, as [`UseCaseCtx::audited`] does.
    pub async fn in_unit<T, W>(
        &self,
        action: AuditAction,
        target: Option<String>,
        detail: Value,
        writes: W,
        success: impl FnOnce(&T) -> Value,
    ) -> CoreResult<T>
    where
        W: for<'t> FnOnce(&'t mut dyn WriteTx) -> UnitWrites<'t, T>,
    {
        let unit = async {
            let mut tx = self.store.begin_write().await?;
            let v = writes(tx.as_mut()).await?;
            let detail = merged(detail.clone(), success(&v));
            let e = self.event(action, target.clone(), AuditOutcome::Success, detail);
            tx.append_audit(&[e]).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(v)
        };
        match unit.await {
            Ok(v) => Ok(v),
            Err(e) => {
                self.audit_failure(action, target, detail, &e).await;
                Err(e.into())
            }
        }
    }

    /// Runs a store change and audits it with its outcome: on success with `detail` and what
    /// `success` adds from the result, on failure with the error.
    pub async fn audited<T, F>(
        &self,
        action: AuditAction,
        target: Option<String>,
        detail: Value,
        change: F,
        success: impl FnOnce(&T) -> Value,
    ) -> CoreResult<T>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        match change.await {
            Ok(v) => {
                let detail = merged(detail, success(&v));
                self.audit(action, target, AuditOutcome::Success, detail)
                    .await?;
                Ok(v)
            }
            Err(e) => {
                self.audit_failure(action, target, detail, &e).await;
                Err(e.into())
            }
        }
    }

    /// Makes this process's revocation view re-read the user at once.
    async fn refresh_user(&self, user: UserId, now: Timestamp) -> CoreResult<()> {
        if let Some(view) = self.revocations {
            view.refresh_user(self.store, user, now).await?;
        }
        Ok(())
    }

    /// Makes this process's OpenID provider read its clients again at once (other processes
    /// hear of the change through the revocation feed).
    fn clients_changed(&self) {
        if let Some(view) = self.revocations {
            view.bump_clients();
        }
    }
}

/// `base` with the fields of `more` added (both objects; otherwise `base`).
fn merged(mut base: Value, more: Value) -> Value {
    if let (Value::Object(b), Value::Object(m)) = (&mut base, more) {
        b.extend(m);
    }
    base
}
