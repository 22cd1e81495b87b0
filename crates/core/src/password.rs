//! Password hashing (argon2id on a bounded pool of OS threads) and, in `policy.rs`, the policy
//! (NIST SP 800-63B: length only, no composition rules, a blocklist of common passwords).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

mod policy;
pub use policy::{MAX_PASSWORD_BYTES, PasswordPolicy, PasswordRejection};

/// argon2id cost parameters. The default is OWASP's minimum: m=19456 KiB, t=2, p=1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("the stored password hash is not a valid PHC string")]
    BadHash,
    #[error("the hashing pool is shut down")]
    PoolClosed,
    /// Every hashing thread is busy and the queue is full: answer "try later" now rather
    /// than pile up waiting requests.
    #[error("the hashing queue is full")]
    Busy,
    /// The client went away before its job started; the job was not computed.
    #[error("the client went away before its password was hashed")]
    Abandoned,
}

impl HashParams {
    fn argon2(&self) -> Result<Argon2<'static>, HashError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashError::Params(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Rejects parameters below the floor this server promises (19 MiB, t=2).
    pub fn validate(&self) -> Result<(), HashError> {
        if self.memory_kib < 19456 || self.iterations < 2 || self.parallelism < 1 {
            return Err(HashError::Params(
                "argon2id needs at least memory_kib=19456, iterations=2, parallelism=1".into(),
            ));
        }
        self.argon2().map(|_| ())
    }

    /// Hashes synchronously. Call from a blocking context only (the pool, the CLI, tests).
    pub fn hash_blocking(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::encode_b64(&crate::crypto::random_bytes::<16>())
            .map_err(|e| HashError::Params(e.to_string()))?;
        let hash = self
            .argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| HashError::Params(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// Verifies synchronously; the comparison inside argon2 is constant-time.
    pub fn verify_blocking(&self, password: &str, phc: &str) -> Result<Verified, HashError> {
        self.verify_with_memory(password, phc, &mut Vec::new())
    }

    /// [`Self::verify_blocking`] with the caller's argon2 working memory, grown as needed and
    /// reused across calls: a hashing thread keeps one buffer rather than allocating (and the
    /// kernel zero-filling) 19 MiB per login.
    pub fn verify_with_memory(
        &self,
        password: &str,
        phc: &str,
        memory: &mut Vec<Block>,
    ) -> Result<Verified, HashError> {
        let parsed = PasswordHash::new(phc).map_err(|_| HashError::BadHash)?;
        if !argon2_matches(password, &parsed, memory)? {
            return Ok(Verified::No);
        }
        Ok(if self.is_current(&parsed) {
            Verified::Yes
        } else {
            Verified::YesNeedsRehash
        })
    }

    fn is_current(&self, parsed: &PasswordHash<'_>) -> bool {
        if parsed.algorithm.as_str() != "argon2id" {
            return false;
        }
        match Params::try_from(parsed) {
            Ok(p) => {
                p.m_cost() == self.memory_kib
                    && p.t_cost() == self.iterations
                    && p.p_cost() == self.parallelism
            }
            Err(_) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with outdated parameters: rehash and store.
    YesNeedsRehash,
}

enum Job {
    Hash {
        password: Zeroizing<String>,
        requester: Option<Requester>,
        reply: oneshot::Sender<Result<String, HashError>>,
    },
    Verify {
        password: Zeroizing<String>,
        /// `None`: verify against the dummy hash, so unknown accounts cost the same.
        phc: Option<String>,
        requester: Option<Requester>,
        reply: oneshot::Sender<Result<Verified, HashError>>,
    },
}

impl Job {
    /// True when nobody waits for the answer any more (see [`abandoned`]).
    fn abandoned(&self) -> bool {
        match self {
            Job::Hash {
                reply, requester, ..
            } => abandoned(reply, requester),
            Job::Verify {
                reply, requester, ..
            } => abandoned(reply, requester),
        }
    }

    /// Answers `Abandoned` instead of computing the job.
    fn answer_abandoned(self) {
        match self {
            Job::Hash { reply, .. } => drop(reply.send(Err(HashError::Abandoned))),
            Job::Verify { reply, .. } => drop(reply.send(Err(HashError::Abandoned))),
        }
    }
}

tokio::task_local! {
    static REQUESTER: Requester;
}

/// Whether the client some work is done for is still there. A surface whose handler outlives
/// the client's connection (Parsable runs each call in its own task, so that a disconnect does
/// not cut a login in half) runs the handler in [`Requester::scope`] and holds a
/// [`RequesterGuard`]; hash jobs submitted in the scope are skipped once the guard is dropped
/// before they start. Work submitted from a future that is itself dropped is skipped anyway:
/// its reply channel is closed.
#[derive(Debug, Clone, Default)]
pub struct Requester(Arc<AtomicBool>);

/// Flags its [`Requester`] gone when dropped.
#[derive(Debug)]
pub struct RequesterGuard(Requester);

impl Drop for RequesterGuard {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Release);
    }
}

impl Requester {
    pub fn new() -> Requester {
        Requester::default()
    }

    pub fn is_gone(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// The guard whose drop (e.g. with the connection's request future) flags this requester.
    pub fn guard(&self) -> RequesterGuard {
        RequesterGuard(self.clone())
    }

    /// Runs `f` on behalf of this requester.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        REQUESTER.scope(self, f).await
    }

    fn current() -> Option<Requester> {
        REQUESTER.try_with(Clone::clone).ok()
    }
}

/// True when nobody waits for the job's answer any more: its future was dropped (the reply
/// channel is closed) or its client went away.
fn abandoned<T>(reply: &oneshot::Sender<T>, requester: &Option<Requester>) -> bool {
    reply.is_closed() || requester.as_ref().is_some_and(Requester::is_gone)
}

/// Recomputes the argon2 hash of `password` with the algorithm, version, parameters and salt
/// of `parsed`, into `memory`, and compares it with the stored hash in constant time: what
/// `PasswordVerifier::verify_password` does, without its per-call allocation.
fn argon2_matches(
    password: &str,
    parsed: &PasswordHash<'_>,
    memory: &mut Vec<Block>,
) -> Result<bool, HashError> {
    let bad = |_| HashError::BadHash;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(bad)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| HashError::BadHash)?
        .unwrap_or_default();
    let params = Params::try_from(parsed).map_err(bad)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(HashError::BadHash);
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(bad)?;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .map_err(|_| HashError::BadHash)?;
    Ok(crate::crypto::constant_time_eq(&out, expected.as_bytes()))
}

/// A bounded pool of OS threads that run argon2, so hashing never blocks async workers and a
/// flood of logins cannot starve token validation. The queue is bounded and never waited on:
/// past it a job is refused at once with [`HashError::Busy`]. A job whose requester went away
/// before it started is dropped without being computed.
#[derive(Clone)]
pub struct HashPool {
    tx: mpsc::Sender<Job>,
    params: HashParams,
    threads: usize,
    queue: usize,
    /// Verifications computed so far (real and dummy), for tests and metrics.
    verifications: Arc<AtomicU64>,
    /// New hashes computed so far, for tests and metrics.
    hashes: Arc<AtomicU64>,
    /// Jobs dropped because their requester went away.
    abandoned: Arc<AtomicU64>,
    /// How long the dummy hash took at start: a first estimate of one verification.
    calibration: Duration,
    /// What the CPU share reserve watches (`hash_share.rs`).
    activity: Arc<Activity>,
}

/// The pool's work in flight and its threads, for the CPU share reserve (`hash_share.rs`).
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Jobs a hashing thread is computing now.
    running: std::sync::atomic::AtomicUsize,
    /// The hashing threads' kernel thread ids (Linux), as each thread starts.
    pub(crate) tids: parking_lot::Mutex<Vec<i32>>,
    /// Signalled on every submitted job: the reserve sleeps on it while the pool is idle.
    pub(crate) submitted: tokio::sync::Notify,
}

/// A reserved place in the hashing queue: what lets a caller learn that the pool is full
/// before it does anything else (such as claiming a throttle key).
pub struct HashSlot<'a> {
    permit: mpsc::Permit<'a, Job>,
    activity: &'a Activity,
}

impl HashSlot<'_> {
    /// [`HashPool::verify`] in the reserved place.
    pub async fn verify(self, password: &str, phc: Option<&str>) -> Result<Verified, HashError> {
        let (reply, rx) = oneshot::channel();
        self.permit.send(Job::Verify {
            password: Zeroizing::new(password.to_owned()),
            phc: phc.map(str::to_owned),
            requester: Requester::current(),
            reply,
        });
        self.activity.submitted.notify_one();
        rx.await.map_err(|_| HashError::PoolClosed)?
    }

    /// [`HashPool::hash`] in the reserved place.
    pub async fn hash(self, password: &str) -> Result<String, HashError> {
        let (reply, rx) = oneshot::channel();
        self.permit.send(Job::Hash {
            password: Zeroizing::new(password.to_owned()),
            requester: Requester::current(),
            reply,
        });
        self.activity.submitted.notify_one();
        rx.await.map_err(|_| HashError::PoolClosed)?
    }
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("params", &self.params)
            .field("threads", &self.threads)
            .finish()
    }
}

impl HashPool {
    /// `threads` = 0 means one per core. The queue holds `queue` jobs; beyond that jobs are
    /// refused with [`HashError::Busy`]. The threads run at niceness `nice` (0 = as the rest
    /// of the process).
    pub fn new(
        params: HashParams,
        threads: usize,
        queue: usize,
        nice: u8,
    ) -> Result<HashPool, HashError> {
        params.argon2()?;
        if nice > 19 {
            return Err(HashError::Params(format!(
                "hash_nice must be 0-19, not {nice}"
            )));
        }
        let threads = if threads == 0 {
            thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            threads
        };
        let queue = queue.max(1);
        let (tx, rx) = mpsc::channel::<Job>(queue);
        let rx = Arc::new(parking_lot::Mutex::new(rx));
        let started = Instant::now();
        let dummy = Arc::new(params.hash_blocking("portcullis-dummy-password")?);
        let calibration = started.elapsed();
        let verifications = Arc::new(AtomicU64::new(0));
        let hashes = Arc::new(AtomicU64::new(0));
        let abandoned = Arc::new(AtomicU64::new(0));
        let activity = Arc::new(Activity::default());
        for i in 0..threads {
            let rx = rx.clone();
            let dummy = dummy.clone();
            let counts = Counts {
                verifications: verifications.clone(),
                hashes: hashes.clone(),
                abandoned: abandoned.clone(),
                activity: activity.clone(),
            };
            thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    if let Some(tid) = current_tid() {
                        counts.activity.tids.lock().push(tid);
                    }
                    worker(rx, params, dummy, counts)
                })
                .map_err(|e| HashError::Params(format!("cannot start hashing thread: {e}")))?;
        }
        Ok(HashPool {
            tx,
            params,
            threads,
            queue,
            verifications,
            hashes,
            abandoned,
            calibration,
            activity,
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Verifications computed so far (real and dummy).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// New hashes computed so far.
    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }

    /// Jobs dropped uncomputed because their requester went away.
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a thread (or with a place reserved), at most the queue size.
    pub fn queued(&self) -> usize {
        self.queue - self.tx.capacity()
    }

    /// Jobs queued or being computed: logins waiting on the pool.
    pub fn in_flight(&self) -> usize {
        self.queued() + self.activity.running.load(Ordering::Acquire)
    }

    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// How long one hash took when the pool started.
    pub fn calibration(&self) -> Duration {
        self.calibration
    }

    /// Reserves a place in the queue, or fails at once when it is full.
    pub fn try_reserve(&self) -> Result<HashSlot<'_>, HashError> {
        match self.tx.try_reserve() {
            Ok(permit) => Ok(HashSlot {
                permit,
                activity: &self.activity,
            }),
            Err(mpsc::error::TrySendError::Full(())) => {
                tracing::debug!(queue = self.queue, "hashing queue full; refusing a job");
                Err(HashError::Busy)
            }
            Err(mpsc::error::TrySendError::Closed(())) => Err(HashError::PoolClosed),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.try_reserve()?.hash(password).await
    }

    /// Verifies `password` against `phc`, or against a dummy hash when `phc` is `None` (an
    /// unknown account or one without a password), which then always answers `No`.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<Verified, HashError> {
        self.try_reserve()?.verify(password, phc).await
    }
}

/// Makes the calling hashing thread yield to the async workers under contention. Best effort:
/// a platform that refuses keeps the default priority, which is only slower, never wrong.
fn lower_priority(nice: u8) {
    if nice == 0 {
        return;
    }
    // Linux nice values are per thread; naming our own tid makes that explicit.
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), i32::from(nice))
    {
        tracing::warn!(error = %e, nice, "cannot lower the hashing threads' priority");
    }
}

/// What the hashing threads count.
struct Counts {
    verifications: Arc<AtomicU64>,
    hashes: Arc<AtomicU64>,
    abandoned: Arc<AtomicU64>,
    activity: Arc<Activity>,
}

fn worker(
    rx: Arc<parking_lot::Mutex<mpsc::Receiver<Job>>>,
    params: HashParams,
    dummy: Arc<String>,
    counts: Counts,
) {
    // This thread's argon2 working memory, kept for its lifetime (see `verify_with_memory`).
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // Holding the lock only while waiting for the next job.
        let job = { rx.lock().blocking_recv() };
        let Some(job) = job else { return };
        if job.abandoned() {
            counts.abandoned.fetch_add(1, Ordering::Relaxed);
            job.answer_abandoned();
            continue;
        }
        counts.activity.running.fetch_add(1, Ordering::AcqRel);
        run_job(job, params, &dummy, &counts, &mut memory);
        counts.activity.running.fetch_sub(1, Ordering::AcqRel);
    }
}

fn run_job(job: Job, params: HashParams, dummy: &str, counts: &Counts, memory: &mut Vec<Block>) {
    match job {
        Job::Hash {
            password, reply, ..
        } => {
            counts.hashes.fetch_add(1, Ordering::Relaxed);
            let _ = reply.send(params.hash_blocking(&password));
        }
        Job::Verify {
            password,
            phc,
            reply,
            ..
        } => {
            counts.verifications.fetch_add(1, Ordering::Relaxed);
            let result = match phc {
                Some(phc) => params.verify_with_memory(&password, &phc, memory),
                None => params
                    .verify_with_memory(&password, dummy, memory)
                    .map(|_| Verified::No),
            };
            let _ = reply.send(result);
        }
    }
}

/// The calling thread's kernel id, by which the CPU share reserve (`hash_share.rs`) reads the
/// hashing threads' `schedstat`.
#[cfg(target_os = "linux")]
pub(crate) fn current_tid() -> Option<i32> {
    Some(rustix::thread::gettid().as_raw_nonzero().get())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn current_tid() -> Option<i32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cheap() -> HashParams {
        // Tests of the pool mechanics only; the floor is checked by `validate`.
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn reused_memory_verifies_like_argon2_itself_across_parameters() {
        use argon2::password_hash::PasswordVerifier as _;
        let small = cheap();
        let large = HashParams {
            memory_kib: 4096,
            iterations: 2,
            parallelism: 2,
        };
        let mut memory = Vec::new();
        // Large first, then small: the buffer is only ever grown and must not leak state.
        for params in [large, small, large] {
            let phc = params.hash_blocking("right").unwrap();
            let parsed = PasswordHash::new(&phc).unwrap();
            for (attempt, want) in [("right", true), ("wrong", false)] {
                let ours = small
                    .verify_with_memory(attempt, &phc, &mut memory)
                    .unwrap();
                assert_eq!(ours != Verified::No, want, "{attempt} against {phc}");
                let theirs = Argon2::default()
                    .verify_password(attempt.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(theirs, want);
            }
        }
        assert!(matches!(
            small.verify_with_memory(
                "x",
                "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ",
                &mut memory
            ),
            Err(HashError::BadHash)
        ));
    }

    #[test]
    fn default_params_meet_the_floor() {
        HashParams::default().validate().unwrap();
        assert!(cheap().validate().is_err());
    }

    #[test]
    fn hash_verify_and_rehash_detection() {
        let old = cheap();
        let phc = old.hash_blocking("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert_eq!(
            old.verify_blocking("correct horse battery staple", &phc)
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(old.verify_blocking("wrong", &phc).unwrap(), Verified::No);
        let newer = HashParams {
            memory_kib: 2048,
            ..old
        };
        assert_eq!(
            newer
                .verify_blocking("correct horse battery staple", &phc)
                .unwrap(),
            Verified::YesNeedsRehash
        );
        assert!(matches!(
            old.verify_blocking("x", "not-a-phc"),
            Err(HashError::BadHash)
        ));
    }

    #[tokio::test]
    async fn pool_hashes_off_the_runtime_and_dummy_never_matches() {
        let pool = HashPool::new(cheap(), 2, 8, 10).unwrap();
        let phc = pool.hash("a long enough password").await.unwrap();
        assert_eq!(
            pool.verify("a long enough password", Some(&phc))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            pool.verify("portcullis-dummy-password", None)
                .await
                .unwrap(),
            Verified::No
        );
    }

    /// A verification that keeps a hashing thread busy for a while (the PHC's own parameters
    /// are used, whatever the pool's).
    fn slow_phc() -> String {
        HashParams {
            memory_kib: 65536,
            iterations: 6,
            parallelism: 1,
        }
        .hash_blocking("slow")
        .unwrap()
    }

    async fn until(what: &str, cond: impl Fn() -> bool) {
        for _ in 0..2000 {
            if cond() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = HashPool::new(cheap(), 1, 1, 0).unwrap();
        let slow = slow_phc();
        let running = {
            let (pool, slow) = (pool.clone(), slow.clone());
            tokio::spawn(async move { pool.verify("x", Some(&slow)).await })
        };
        until("the thread to take the job", || {
            pool.queued() == 0 && pool.verifications() == 1
        })
        .await;
        let waiting = {
            let (pool, slow) = (pool.clone(), slow.clone());
            tokio::spawn(async move { pool.verify("x", Some(&slow)).await })
        };
        until("the queue to fill", || pool.queued() == 1).await;
        let third = tokio::time::timeout(Duration::from_millis(100), pool.verify("x", None)).await;
        assert!(matches!(third, Ok(Err(HashError::Busy))), "{third:?}");
        assert!(matches!(
            tokio::time::timeout(Duration::from_millis(100), pool.hash("x")).await,
            Ok(Err(HashError::Busy))
        ));
        assert_eq!(running.await.unwrap().unwrap(), Verified::No);
        assert_eq!(waiting.await.unwrap().unwrap(), Verified::No);
        // Room again.
        assert_eq!(pool.verify("x", None).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn abandoned_jobs_are_not_computed() {
        let pool = HashPool::new(cheap(), 1, 8, 0).unwrap();
        let slow = slow_phc();
        let right = cheap().hash_blocking("right").unwrap();
        let running = {
            let (pool, slow) = (pool.clone(), slow.clone());
            tokio::spawn(async move { pool.verify("x", Some(&slow)).await })
        };
        until("the thread to take the job", || {
            pool.queued() == 0 && pool.verifications() == 1
        })
        .await;
        // A caller whose future is dropped while its job waits.
        let dropped =
            tokio::time::timeout(Duration::from_millis(5), pool.verify("right", Some(&right)))
                .await;
        assert!(dropped.is_err(), "the job cannot have run yet");
        // A caller whose task lives on but whose client went away.
        let requester = Requester::new();
        let guard = requester.guard();
        let detached = {
            let (pool, right) = (pool.clone(), right.clone());
            tokio::spawn(requester.scope(async move { pool.verify("right", Some(&right)).await }))
        };
        until("both jobs to queue", || pool.queued() == 2).await;
        drop(guard);
        assert!(matches!(detached.await.unwrap(), Err(HashError::Abandoned)));
        running.await.unwrap().unwrap();
        assert_eq!(pool.verifications(), 1, "only the job that had started ran");
        assert_eq!(pool.abandoned(), 2);
        // A requester still there is served.
        let here = Requester::new();
        let _guard = here.guard();
        let pool2 = pool.clone();
        let ok = here
            .scope(async move { pool2.verify("right", Some(&right)).await })
            .await;
        assert_eq!(ok.unwrap(), Verified::Yes);
    }
}
