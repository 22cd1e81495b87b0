//! Per-call costs of the auth engine's hot paths: password hashing, token signing, full token
//! validation (cached and uncached), credential exchange, and the bare Ed25519 verify they are
//! compared with. Run: `cargo bench -p portcullis-core --bench auth`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, black_box};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use portcullis_core::audit::AuditContext;
use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::{Engine, OrgChoice};
use portcullis_core::password::HashParams;
use portcullis_core::*;

struct Fixture {
    rt: tokio::runtime::Runtime,
    engine: Arc<Engine>,
    token: String,
    api_key: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir
        .path()
        .join("bench.sqlite")
        .to_string_lossy()
        .into_owned();
    let (engine, token, api_key) = rt.block_on(async {
        let store = portcullis_store::open(&path).await.expect("store");
        let cfg = CoreConfig::default();
        store
            .upsert_region(cfg.region.clone())
            .await
            .expect("region");
        let engine = Engine::start(store.clone(), cfg, MasterKey::generate())
            .await
            .expect("engine");
        let org = store
            .create_org(NewOrg {
                name: "bench".into(),
                display_name: None,
                region_id: "local".into(),
            })
            .await
            .expect("org");
        let hash = engine
            .hasher()
            .hash("a bench passphrase")
            .await
            .expect("hash");
        let user = store
            .create_user(NewUser {
                email: "bench@example.com".into(),
                display_name: "bench".into(),
                avatar_url: None,
                password_hash: Some(hash),
                validated_at: None,
                super_admin: false,
            })
            .await
            .expect("user");
        store
            .upsert_membership(
                user.id,
                org.id,
                [Role::Admin].into(),
                MembershipKind::Member,
            )
            .await
            .expect("membership");
        let ctx = AuditContext::default();
        let grant = engine
            .login_password(
                "bench@example.com",
                "a bench passphrase",
                OrgChoice::Default,
                None,
                &ctx,
            )
            .await
            .expect("login");
        let p = engine
            .authenticate(&grant.token.token)
            .await
            .expect("principal");
        let (_, key) = engine
            .create_api_key(&p, "bench", None, &ctx)
            .await
            .expect("api key");
        (engine, grant.token.token, key)
    });
    Fixture {
        rt,
        engine,
        token,
        api_key,
        _dir: dir,
    }
}

fn median_ns(mut f: impl FnMut(), n: usize) -> f64 {
    let mut v: Vec<u128> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos()
        })
        .collect();
    v.sort_unstable();
    v[n / 2] as f64
}

fn main() {
    let fx = fixture();
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3));
    let tokens = fx.engine.access_tokens();
    let params = HashParams::default();

    c.bench_function("argon2id hash (m=19456,t=2,p=1)", |b| {
        b.iter(|| {
            params
                .hash_blocking(black_box("a bench passphrase"))
                .expect("hash")
        })
    });
    let now = chrono::Utc::now();
    let claims = tokens.claims(
        UserId::new(),
        OrgId::new(),
        "sid",
        now,
        now + chrono::Duration::hours(1),
        vec!["pwd".into()],
        false,
    );
    c.bench_function("token sign (EdDSA)", |b| {
        b.iter(|| tokens.sign(black_box(&claims)).expect("sign"))
    });
    c.bench_function("token validate, full (cached claims + revocation)", |b| {
        b.iter(|| {
            tokens
                .validate(black_box(&fx.token), chrono::Utc::now())
                .expect("valid")
        })
    });
    c.bench_function("token validate, uncached (signature + claims)", |b| {
        b.iter(|| {
            tokens
                .verify_ignoring_expiry(black_box(&fx.token))
                .expect("valid")
        })
    });
    c.bench_function("credential exchange (lookup + mint)", |b| {
        b.iter(|| {
            fx.rt
                .block_on(
                    fx.engine
                        .exchange_credential(black_box(&fx.api_key), &AuditContext::default()),
                )
                .expect("exchange")
        })
    });
    let sk = SigningKey::from_bytes(&[7u8; 32]);
    let vk = sk.verifying_key();
    let msg = vec![b'x'; 260];
    let sig = sk.sign(&msg);
    c.bench_function("bare Ed25519 verify (260-byte message)", |b| {
        b.iter(|| vk.verify(black_box(&msg), black_box(&sig)).expect("verify"))
    });
    c.final_summary();

    // The ratio the issue asks for, from medians measured back to back.
    let bare = median_ns(|| vk.verify(&msg, &sig).expect("verify"), 20_000);
    let cached = median_ns(
        || {
            drop(
                tokens
                    .validate(&fx.token, chrono::Utc::now())
                    .expect("valid"),
            )
        },
        20_000,
    );
    let uncached = median_ns(
        || drop(tokens.verify_ignoring_expiry(&fx.token).expect("valid")),
        5_000,
    );
    println!(
        "\nmedians: bare Ed25519 verify {bare:.0} ns, full validation (cached) {cached:.0} ns, uncached {uncached:.0} ns"
    );
    println!(
        "ratio full validation / bare verify: cached {:.2}, uncached {:.2}",
        cached / bare,
        uncached / bare
    );
}
