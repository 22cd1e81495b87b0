//! `portcullis serve`: open and migrate the store, settle the master key, bootstrap an empty
//! store, start the engine, and serve until SIGTERM/SIGINT.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::Router;
use portcullis_core::admin::Admin;
use portcullis_core::engine::Engine;
use portcullis_core::oidc::Provider;
use portcullis_core::store::Store;
use portcullis_core::{KeyPurpose, crypto::MasterKey};
use portcullis_federation::Federation;
use portcullis_oidc::{HttpLogoutSender, HttpMetadataFetcher};
use portcullis_server::config::{Config, ENV_BOOTSTRAP_ADMIN_PASSWORD};
use portcullis_server::{HttpContext, build_app, hook};
use zeroize::Zeroizing;

use crate::keyfile::{self, KeyPlan};
use crate::settings;

/// Opens the configured store and applies migrations. For SQLite, creates the data directory
/// (0700) first; for PostgreSQL nothing local is written.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let location = cfg.server.database_location();
    if let Some(file) = location.sqlite_file() {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.to_owned())
            .unwrap_or_else(|| ".".into());
        keyfile::ensure_dir(&dir)?;
    }
    let shown = location.redacted();
    let store = portcullis_store::DbStore::connect(location.as_str())
        .await
        .with_context(|| format!("cannot open the store at {shown}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the store at {shown}"))?;
    let store = store.into_dyn();
    tracing::debug!(backend = store.backend(), location = %shown, "store open");
    Ok(store)
}

fn bootstrap_password() -> Option<Zeroizing<String>> {
    std::env::var(ENV_BOOTSTRAP_ADMIN_PASSWORD)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Zeroizing::new)
}

/// The upstream OpenID providers of `[federation]`, over the running engine. Nothing is
/// fetched here: discovery and keys load on first use, so a provider that is down does not
/// stop the server.
pub fn federation(engine: &Arc<Engine>, cfg: &Config) -> anyhow::Result<Arc<Federation>> {
    let fed = Federation::new(cfg.federation.providers.clone(), engine.clone())
        .context("invalid [federation] configuration")?;
    for p in fed.providers() {
        tracing::info!(alias = %p.alias, kind = ?p.kind, issuer = %p.issuer, "identity provider configured");
    }
    Ok(Arc::new(fed))
}

/// How often the OpenID provider looks for back-channel logout notices to deliver.
const LOGOUT_DELIVERY_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The surface routers, given the running engine, the federation and the OpenID provider.
fn surfaces(
    engine: &Arc<Engine>,
    federation: &Arc<Federation>,
    provider: &Arc<Provider>,
) -> Vec<Router> {
    let mut parts = vec![
        portcullis_nominal::router(engine.clone(), Some(federation.clone())),
        portcullis_parsable::router(engine.clone(), Some(federation.clone())),
        portcullis_account::router(engine.clone()),
        portcullis_org_admin::router(engine.clone()),
        portcullis_well_known::router(engine.clone()),
        portcullis_web::router(engine.clone(), Some(federation.clone())),
        portcullis_oidc::router(provider.clone()),
        // The pages' stylesheets (the edge's; one per configured brand).
        portcullis_edge::assets::router(&engine.config().branding),
        crate::openapi::router(),
    ];
    if let Some(r) = test_hooks() {
        parts.push(r);
    }
    parts
}

/// Debug builds only, and only with `PORTCULLIS_TEST_HOOKS=1`: `GET /__test/sleep/{ms}`, a slow
/// request for the graceful-shutdown test. Release builds never have it.
fn test_hooks() -> Option<Router> {
    if !cfg!(debug_assertions) || std::env::var("PORTCULLIS_TEST_HOOKS").as_deref() != Ok("1") {
        return None;
    }
    async fn sleep(axum::extract::Path(ms): axum::extract::Path<u64>) -> String {
        tokio::time::sleep(std::time::Duration::from_millis(ms.min(10_000))).await;
        format!("slept {ms} ms\n")
    }
    tracing::warn!("test hooks enabled (PORTCULLIS_TEST_HOOKS=1)");
    Some(Router::new().route("/__test/sleep/{ms}", axum::routing::get(sleep)))
}

pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let _log = settings::init_logging(&cfg)?;
    let location = cfg.server.database_location();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %cfg.server.data_dir.display(),
        database = %location.redacted(),
        "starting portcullis"
    );

    // 1. Everything that can be checked without writing: the bootstrap password and the
    //    master key. Nothing is written if either is bad.
    if let Some(pw) = bootstrap_password() {
        cfg.core
            .passwords
            .policy
            .check(&pw, Some(&cfg.bootstrap.admin_email))
            .with_context(|| format!("{ENV_BOOTSTRAP_ADMIN_PASSWORD} is not acceptable"))?;
    }
    let key_plan = keyfile::plan(&cfg.server.key_file())?;

    // 2. The store (creates the data directory for SQLite) and its migrations.
    let store = open_store(&cfg).await?;

    // 3. A new key file, only when the store holds no sealed keys it could not open.
    let key = match key_plan {
        KeyPlan::Create(key, path) => {
            if !store.list_keys(KeyPurpose::TokenSigning).await?.is_empty() {
                store.close().await;
                bail!(
                    "the store already holds signing keys but the master key file {} is missing; \
                     restore it or set PORTCULLIS_MASTER_KEY",
                    path.display()
                );
            }
            keyfile::write_new(&key, &path)?;
            tracing::info!(path = %path.display(), "created a new master key file (mode 0600)");
            key
        }
        KeyPlan::File(key, path) => {
            tracing::info!(path = %path.display(), "using the master key file");
            key
        }
        KeyPlan::Env(key) => {
            tracing::info!("using the master key from PORTCULLIS_MASTER_KEY");
            key
        }
    };

    // 4. Bootstrap an empty store.
    if let Err(e) = bootstrap(&cfg, store.clone()).await {
        store.close().await;
        return Err(e);
    }

    // 5. The OpenID clients declared in the file, before any request can use one.
    if let Err(e) = reconcile_clients(&cfg, store.clone()).await {
        store.close().await;
        return Err(e);
    }

    // 6. The engine, the surfaces, and the HTTP server.
    let engine = match Engine::start(store.clone(), cfg.core.clone(), MasterKey::clone(&key)).await
    {
        Ok(e) => e,
        Err(e) => {
            store.close().await;
            return Err(anyhow::Error::new(e).context("cannot start the auth engine"));
        }
    };
    // Every server lists every algorithm's key from its start (the first start makes them), so
    // a relying party never meets an ID token whose key the server it asks does not publish.
    let now = chrono::Utc::now();
    if let Err(e) = engine.signing_keys().ensure_all(store.as_ref(), now).await {
        engine.shutdown().await;
        store.close().await;
        return Err(anyhow::Error::new(e).context("cannot make the ID-token signing keys"));
    }
    let fed = match federation(&engine, &cfg) {
        Ok(f) => f,
        Err(e) => {
            engine.shutdown().await;
            store.close().await;
            return Err(e);
        }
    };
    let provider = Provider::new(engine.clone());
    // Token exchange trusts the ID tokens of exactly the providers `[federation]` trusts.
    provider.trust_upstream_id_tokens(fed.clone());
    let sender = match HttpLogoutSender::new() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            engine.shutdown().await;
            store.close().await;
            bail!("cannot build the back-channel logout HTTP client: {e}");
        }
    };
    let documents = &cfg.core.oidc.registration.metadata_documents;
    if documents.enabled {
        match HttpMetadataFetcher::new(documents) {
            Ok(f) => provider.set_metadata_document_fetcher(Arc::new(f)),
            Err(e) => {
                engine.shutdown().await;
                store.close().await;
                bail!("cannot build the client metadata document HTTP client: {e}");
            }
        }
    }
    let ctx = HttpContext::new(cfg.server.clone(), store.clone())
        .with_revocation_feed(engine.revocations().clone());
    let app = build_app(surfaces(&engine, &fed, &provider), &ctx);
    let listener = match portcullis_server::bind(cfg.server.listen).await {
        Ok(l) => l,
        Err(e) => {
            engine.shutdown().await;
            store.close().await;
            return Err(e.into());
        }
    };
    let addr = listener.local_addr().unwrap_or(cfg.server.listen);
    // `/metrics` on its own address when configured (it is then absent from `app`).
    let metrics = match cfg.server.metrics_listen {
        Some(maddr) => match portcullis_server::bind(maddr).await {
            Ok(l) => {
                let maddr = l.local_addr().unwrap_or(maddr);
                tracing::info!(addr = %maddr, "metrics on http://{maddr}/metrics");
                Some(portcullis_server::spawn_metrics(l, &ctx))
            }
            Err(e) => {
                engine.shutdown().await;
                store.close().await;
                return Err(e.into());
            }
        },
        None => None,
    };
    // Before "listening": a supervisor (or a test) may signal as soon as it reads that line.
    let shutdown = portcullis_server::shutdown_signal();
    tracing::info!(addr = %addr, backend = store.backend(), "listening on http://{addr}");
    let provider_work = provider.spawn_background(sender, LOGOUT_DELIVERY_EVERY);

    let engine_for_hook = engine.clone();
    let result = portcullis_server::serve(
        listener,
        app,
        ctx,
        shutdown,
        vec![hook(move || async move {
            provider_work.abort();
            engine_for_hook.shutdown().await;
            tracing::info!("engine stopped; audit queue flushed");
        })],
    )
    .await;
    if let Some(m) = metrics {
        m.abort();
    }
    result?;
    Ok(())
}

/// Makes the store's clients match `[[core.oidc.clients]]` (docs/design/oidc-clients.md).
async fn reconcile_clients(cfg: &Config, store: Arc<dyn Store>) -> anyhow::Result<()> {
    let done = Admin::new(store, &cfg.core, "config")
        .reconcile_declared_clients()
        .await
        .context("cannot apply [[core.oidc.clients]]")?;
    if done != Default::default() {
        tracing::info!(
            created = ?done.created,
            updated = ?done.updated,
            unchanged = done.unchanged.len(),
            retired = ?done.retired,
            "declared OpenID clients reconciled"
        );
    }
    Ok(())
}

async fn bootstrap(cfg: &Config, store: Arc<dyn Store>) -> anyhow::Result<()> {
    let admin = Admin::new(store, &cfg.core, "bootstrap");
    let done = admin
        .bootstrap(
            cfg.core.region.clone(),
            &cfg.bootstrap.org_name,
            &cfg.bootstrap.admin_email,
            bootstrap_password(),
        )
        .await
        .context("cannot bootstrap the empty store")?;
    if let Some(b) = done {
        tracing::info!(
            org = %b.org.name,
            admin = %b.user.email,
            "bootstrapped an empty store: default org and super-admin created"
        );
        if let Some(pw) = &b.generated_password {
            // Shown once, on stderr, and never logged.
            eprintln!(
                "\n==================================================================\n\
                 Portcullis bootstrap: super-admin {email} (ADMIN of org {org:?})\n\
                 Generated password (shown only once): {pw}\n\
                 Set PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD to choose it instead.\n\
                 ==================================================================\n",
                email = b.user.email,
                org = b.org.name,
                pw = pw.as_str(),
            );
        }
    }
    Ok(())
}
