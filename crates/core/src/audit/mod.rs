//! The audit writer: a bounded in-process queue drained in batches by one task, outside the
//! request. It is flushed at least every second and on shutdown. It never drops an event: when
//! the queue is full, `record` waits.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::model::{AuditEvent, AuditOutcome, Timestamp, UserId};
use crate::store::{Store, StoreResult};

mod action;

pub use action::AuditAction;

enum Msg {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSink")
    }
}

/// Who did what, from where; `detail` must never hold a secret.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

const BATCH: usize = 1024;

impl AuditSink {
    /// Starts the writer task. `capacity` bounds the queue.
    pub fn start(
        store: Arc<dyn Store>,
        capacity: usize,
    ) -> (AuditSink, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let handle = tokio::spawn(writer(store, rx));
        (AuditSink { tx }, handle)
    }

    pub async fn record(&self, event: AuditEvent) {
        if self.tx.send(Msg::Event(Box::new(event))).await.is_err() {
            tracing::error!("audit writer has stopped; an audit event could not be queued");
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn log(
        &self,
        ctx: &AuditContext,
        now: Timestamp,
        actor: Option<UserId>,
        action: AuditAction,
        target: Option<String>,
        outcome: AuditOutcome,
        detail: serde_json::Value,
    ) {
        self.record(event(ctx, now, actor, action, target, outcome, detail))
            .await;
    }

    /// Waits until everything queued before this call is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Builds one event; the action is stored by its name.
pub fn event(
    ctx: &AuditContext,
    now: Timestamp,
    actor: Option<UserId>,
    action: AuditAction,
    target: Option<String>,
    outcome: AuditOutcome,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        // Time-ordered (v7): the id index takes each new row at its end instead of at a
        // random leaf, so a batch of audit rows dirties a few pages, not one per row.
        id: uuid::Uuid::now_v7(),
        at: now,
        actor,
        action: action.as_str().to_owned(),
        target,
        outcome,
        ip: ctx.ip.clone(),
        request_id: ctx.request_id.clone(),
        detail,
    }
}

/// Where a use case's audit events go: the engine's queue, or straight to the store for the
/// CLI, which runs no writer task (a failed append is then the caller's error).
#[derive(Clone, Copy)]
pub enum AuditWriter<'a> {
    Queued(&'a AuditSink),
    Direct(&'a dyn Store),
}

impl AuditWriter<'_> {
    pub async fn write(&self, event: AuditEvent) -> StoreResult<()> {
        match self {
            AuditWriter::Queued(sink) => {
                sink.record(event).await;
                Ok(())
            }
            AuditWriter::Direct(store) => store.append_audit(&[event]).await,
        }
    }
}

/// How long the writer waits for more events after the first one of a batch.
const GATHER: Duration = Duration::from_millis(100);

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<AuditEvent> = Vec::with_capacity(BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let first = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        let closed = match first {
            Ok(Some(msg)) => {
                take(msg, &mut batch, &mut waiters);
                // Gather a little longer: one commit (one fsync) per batch is what bounds the
                // write cost under load. A flush request cuts the wait short.
                let deadline = tokio::time::Instant::now() + GATHER;
                let mut closed = false;
                while batch.len() < BATCH && waiters.is_empty() {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(msg)) => take(msg, &mut batch, &mut waiters),
                        Ok(None) => {
                            closed = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                closed
            }
            Ok(None) => true,
            Err(_) => false,
        };
        write(&*store, &mut batch).await;
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if closed {
            return;
        }
    }
}

fn take(msg: Msg, batch: &mut Vec<AuditEvent>, waiters: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Event(e) => batch.push(*e),
        Msg::Flush(w) => waiters.push(w),
    }
}

async fn write(store: &dyn Store, batch: &mut Vec<AuditEvent>) {
    if batch.is_empty() {
        return;
    }
    // Retry a failing store rather than drop: back-pressure reaches callers through the queue.
    let mut delay = Duration::from_millis(50);
    loop {
        match store.append_audit(batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit append failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
