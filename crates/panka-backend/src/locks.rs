//! Locks on a stack and environment, or on one service of it.
//!
//! A whole-stack lock excludes every other lock of that stack and environment; service locks on
//! different services coexist, so teams deploy their services at the same time. A request that
//! conflicts fails at once with the holder, operation and age, or waits up to its `wait`.
//!
//! Three stores: DynamoDB (partition key `lockScope` = `stack/env`, sort key `lockName` = `*` or
//! `service:NAME`, TTL on `expiresAt`), local lock files under `.panka/ENV/locks/`, and memory.
//! DynamoDB and memory locks expire [`LOCK_TTL`] after their last heartbeat and are then taken
//! over; local file locks are released by the OS when their process dies.
//!
//! Taking a lock is "claim, then check": a service lock is claimed, then the stack lock is read;
//! a stack lock is claimed, then the service locks are read. Reads are strongly consistent, so of
//! two racing requests at least one sees the other and backs off: both can fail, never both win.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::error::BackendError;
use crate::{StateKey, now_epoch, who};

/// How long a lock lives without a heartbeat. Long enough to ride out a stalled network call,
/// short enough that a crashed holder blocks others for about a minute.
pub const LOCK_TTL: Duration = Duration::from_secs(60);

/// How often a holder extends its lock: a quarter of the TTL, so three heartbeats may fail in a
/// row before the lock can be taken over.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Pause between attempts while waiting for a lock.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// How many heartbeats in a row may fail (the lock store unreachable) before the holder is told
/// its lock is lost. Heartbeats come every quarter of the TTL, so after three failures the lock
/// has a quarter of its TTL left: the holder stops scheduling work before anyone else can take
/// the lock. A heartbeat that finds the lock taken over reports it lost at once.
pub const HEARTBEAT_TOLERANCE: u32 = 3;

/// How far two hosts' clocks may disagree. A lock whose expiry, by this host's clock, passed
/// longer ago than this is taken over at once; one that expired more recently is taken over
/// only after this host has watched it go without a heartbeat for a whole TTL on its own
/// monotonic clock (the lock's `rvn` unchanged), so that a fast or slow clock never takes a
/// live holder's lock (the lease scheme of AWS's DynamoDB Lock Client).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// What a lock covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockScope {
    /// The whole stack and environment.
    Stack,
    /// One service of it.
    Service(String),
}

impl LockScope {
    fn name(&self) -> String {
        match self {
            LockScope::Stack => "*".into(),
            LockScope::Service(s) => format!("service:{s}"),
        }
    }
}

/// A request for a lock.
#[derive(Clone, Debug)]
pub struct LockRequest {
    pub key: StateKey,
    pub scope: LockScope,
    /// What the holder does (`apply`, `destroy`, `state rm`, ...), shown to others.
    pub operation: String,
    /// How long to wait for a conflicting lock to go away; zero fails at once.
    pub wait: Duration,
    /// How long the lock lives without a heartbeat ([`LOCK_TTL`] normally; tests shorten it).
    /// Heartbeats come every quarter of it.
    pub ttl: Duration,
}

impl LockRequest {
    /// A request with the default TTL.
    pub fn new(key: StateKey, scope: LockScope, operation: &str, wait: Duration) -> Self {
        LockRequest {
            key,
            scope,
            operation: operation.to_string(),
            wait,
            ttl: LOCK_TTL,
        }
    }
}

/// A lock as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockInfo {
    /// `stack/env#*` or `stack/env#service:NAME`: what `panka unlock` takes.
    pub id: String,
    /// `stack/env`.
    pub scope: String,
    /// `*` or `service:NAME`.
    pub name: String,
    /// `user@host`.
    pub holder: String,
    /// Unique per acquisition: two processes of one user on one host are told apart.
    pub holder_id: String,
    pub pid: u32,
    pub operation: String,
    /// Epoch seconds.
    pub created: u64,
    /// Epoch seconds; `u64::MAX` for local file locks, which the OS releases.
    pub expires: u64,
    /// Local locks only: whether a process still holds the file lock.
    #[serde(default = "yes")]
    pub held: bool,
    /// Record version: changed by every heartbeat, so a waiter can tell a live holder (whose
    /// `rvn` changes) from a dead one without trusting either clock.
    #[serde(default)]
    pub rvn: String,
    /// How long the holder's lease lasts without a heartbeat, in seconds: how long a waiter
    /// watches an unchanged `rvn` before it takes the lock over.
    #[serde(default = "default_ttl")]
    pub ttl: u64,
}

fn default_ttl() -> u64 {
    LOCK_TTL.as_secs()
}

fn yes() -> bool {
    true
}

impl LockInfo {
    /// Whether the lock still counts: not expired and (for local locks) still held.
    pub fn live(&self, now: u64) -> bool {
        self.held && self.expires >= now
    }

    /// The host part of `holder` (`user@host`).
    pub fn host(&self) -> &str {
        self.holder.rsplit_once('@').map_or("", |(_, h)| h)
    }

    /// Why this lock may be taken over at once, if it may: its holder ran on this host and no
    /// longer runs, or it expired longer ago than [`MAX_CLOCK_SKEW`].
    pub fn stale(&self, now: u64) -> Option<String> {
        if !self.held {
            return Some("its holder released it".into());
        }
        if self.host() == crate::host() && self.pid != 0 && !process_runs(self.pid) {
            return Some(format!(
                "its holder, {} (pid {}), no longer runs on this host",
                self.holder, self.pid
            ));
        }
        if self.expires != u64::MAX && self.expires.saturating_add(MAX_CLOCK_SKEW.as_secs()) < now {
            return Some(format!(
                "it expired {} ago",
                human_age(now.saturating_sub(self.expires))
            ));
        }
        None
    }

    fn describe(&self, now: u64) -> String {
        let what = if self.name == "*" {
            format!("stack {}", self.scope)
        } else {
            format!(
                "{} of {}",
                self.name.replace("service:", "service "),
                self.scope
            )
        };
        format!(
            "{what} is locked by {} (pid {}) for `{}`, taken {} ago (lock id {})",
            self.holder,
            self.pid,
            self.operation,
            human_age(now.saturating_sub(self.created)),
            self.id
        )
    }
}

/// `3m12s`, `45s`, `2h05m`.
pub fn human_age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// A place that stores locks.
#[derive(Clone, Debug)]
pub enum LockStore {
    Memory(MemoryLocks),
    Local(LocalLocks),
    Dynamo(DynamoLocks),
}

/// Whether a process with this id runs on this host (one of another user counts).
fn process_runs(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// A held lock. Release it with [`LockGuard::release`]; dropping it stops the heartbeat, after
/// which a DynamoDB or memory lock expires within [`LOCK_TTL`] and a local lock is freed at once.
pub struct LockGuard {
    store: LockStore,
    info: LockInfo,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    lost: Arc<AtomicBool>,
    lost_signal: tokio::sync::watch::Receiver<bool>,
    /// The holder this lock was taken over from, and why that was allowed.
    taken_over: Option<(LockInfo, String)>,
    _files: Vec<File>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("info", &self.info)
            .finish()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

impl LockGuard {
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Whether the lock is lost: a heartbeat found it taken over (after a long stall), or
    /// [`HEARTBEAT_TOLERANCE`] heartbeats in a row failed. The holder should stop.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Turns true when the lock is lost (see [`LockGuard::lost`]).
    pub fn lost_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.lost_signal.clone()
    }

    /// The holder this lock was taken over from when it was acquired, and why.
    pub fn taken_over(&self) -> Option<&(LockInfo, String)> {
        self.taken_over.as_ref()
    }

    /// Releases the lock.
    ///
    /// # Errors
    /// The store cannot be reached (the lock then expires on its own).
    pub async fn release(mut self) -> Result<(), BackendError> {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        match &self.store {
            LockStore::Memory(m) => {
                m.release(&self.info);
                Ok(())
            }
            LockStore::Local(l) => {
                l.release(&self.info);
                self._files.clear();
                Ok(())
            }
            LockStore::Dynamo(d) => d.release(&self.info).await,
        }
    }
}

impl LockStore {
    /// Takes a lock, waiting up to `request.wait` for conflicting ones to go.
    ///
    /// # Errors
    /// [`BackendError::LockHeld`] naming the holder, operation and age of the conflicting lock.
    pub async fn acquire(&self, request: &LockRequest) -> Result<LockGuard, BackendError> {
        self.acquire_observed(request, &mut |_| {}).await
    }

    /// [`LockStore::acquire`], telling `waiting` who holds the lock each time an attempt finds
    /// it held (at most every few seconds), so a caller can say whom it waits for.
    ///
    /// # Errors
    /// As [`LockStore::acquire`].
    pub async fn acquire_observed(
        &self,
        request: &LockRequest,
        waiting: &mut (dyn FnMut(&LockInfo) + Send),
    ) -> Result<LockGuard, BackendError> {
        let deadline = tokio::time::Instant::now() + request.wait;
        // The holder's record version as first seen, and when: unchanged for a whole TTL means
        // its heartbeats stopped.
        let mut watched: Option<(String, String, tokio::time::Instant, Duration)> = None;
        let mut told: Option<tokio::time::Instant> = None;
        loop {
            let holder_id = uuid::Uuid::new_v4().to_string();
            let now = now_epoch();
            let info = LockInfo {
                id: format!("{}#{}", request.key, request.scope.name()),
                scope: request.key.to_string(),
                name: request.scope.name(),
                holder: who(),
                holder_id,
                pid: std::process::id(),
                operation: request.operation.clone(),
                created: now,
                expires: now + request.ttl.as_secs().max(1),
                held: true,
                rvn: uuid::Uuid::new_v4().to_string(),
                ttl: request.ttl.as_secs().max(1),
            };
            let silent = watched.as_ref().and_then(|(holder_id, rvn, since, ttl)| {
                (since.elapsed() >= *ttl).then(|| (holder_id.clone(), rvn.clone()))
            });
            let attempt = match self {
                LockStore::Memory(m) => m.try_acquire(info),
                LockStore::Local(l) => l.try_acquire(info),
                LockStore::Dynamo(d) => d.try_acquire(info, silent).await,
            };
            match attempt {
                Ok(Acquired {
                    info,
                    files,
                    taken_over,
                }) => {
                    let lost = Arc::new(AtomicBool::new(false));
                    let (lost_tx, lost_signal) = tokio::sync::watch::channel(false);
                    let heartbeat = match self {
                        LockStore::Local(_) => None,
                        store => Some(tokio::spawn(heartbeat(
                            store.clone(),
                            info.clone(),
                            request.ttl,
                            lost.clone(),
                            lost_tx,
                        ))),
                    };
                    return Ok(LockGuard {
                        store: self.clone(),
                        info,
                        heartbeat,
                        lost,
                        lost_signal,
                        taken_over,
                        _files: files,
                    });
                }
                Err(Conflict(holder)) => {
                    let same = watched
                        .as_ref()
                        .is_some_and(|(h, rvn, _, _)| *h == holder.holder_id && *rvn == holder.rvn);
                    if !same {
                        watched = Some((
                            holder.holder_id.clone(),
                            holder.rvn.clone(),
                            tokio::time::Instant::now(),
                            Duration::from_secs(holder.ttl.max(1)),
                        ));
                    }
                    if tokio::time::Instant::now() + WAIT_POLL > deadline {
                        let mut msg = holder.describe(now_epoch());
                        if !request.wait.is_zero() {
                            msg.push_str(&format!(
                                "; waited {}",
                                human_age(request.wait.as_secs())
                            ));
                        }
                        return Err(BackendError::LockHeld(msg));
                    }
                    if told.is_none_or(|t| t.elapsed() >= WAIT_REPORT) {
                        waiting(&holder);
                        told = Some(tokio::time::Instant::now());
                    }
                    tokio::time::sleep(WAIT_POLL).await;
                }
                Err(Failed(e)) => return Err(e),
            }
        }
    }

    /// Every lock in the store (for a local store: of its stack), live or stale.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn list(&self) -> Result<Vec<LockInfo>, BackendError> {
        let mut locks = match self {
            LockStore::Memory(m) => m.list(),
            LockStore::Local(l) => l.list(),
            LockStore::Dynamo(d) => d.list().await?,
        };
        locks.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(locks)
    }

    /// Removes a lock by id. A live lock needs `force`.
    ///
    /// # Errors
    /// [`BackendError::NoSuchLock`], [`BackendError::LockLive`].
    pub async fn unlock(&self, id: &str, force: bool) -> Result<LockInfo, BackendError> {
        let info = self
            .list()
            .await?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or_else(|| BackendError::NoSuchLock(id.to_string()))?;
        if info.live(now_epoch()) && !force {
            return Err(BackendError::LockLive {
                id: id.to_string(),
                holder: info.describe(now_epoch()),
            });
        }
        match self {
            LockStore::Memory(m) => m.release(&info),
            LockStore::Local(l) => l.remove_info(&info),
            LockStore::Dynamo(d) => d.delete(&info, false).await?,
        }
        Ok(info)
    }
}

/// How often a waiter is told who holds the lock it waits for.
const WAIT_REPORT: Duration = Duration::from_secs(15);

/// A lock an attempt took.
struct Acquired {
    info: LockInfo,
    files: Vec<File>,
    /// The holder it was taken over from, and why.
    taken_over: Option<(LockInfo, String)>,
}

impl Acquired {
    fn new(info: LockInfo, files: Vec<File>) -> Self {
        Acquired {
            info,
            files,
            taken_over: None,
        }
    }
}

/// Why an attempt did not take the lock.
enum AttemptError {
    Conflict(Box<LockInfo>),
    Failed(BackendError),
}
use AttemptError::{Conflict, Failed};

async fn heartbeat(
    store: LockStore,
    mut info: LockInfo,
    ttl: Duration,
    lost: Arc<AtomicBool>,
    lost_tx: tokio::sync::watch::Sender<bool>,
) {
    let interval = if ttl == LOCK_TTL {
        HEARTBEAT_INTERVAL
    } else {
        ttl / 4
    };
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(interval).await;
        let expires = now_epoch() + ttl.as_secs().max(1);
        let rvn = uuid::Uuid::new_v4().to_string();
        let kept = match &store {
            LockStore::Memory(m) => Ok(m.extend(&info, expires)),
            LockStore::Dynamo(d) => d.extend(&info, expires, &rvn).await,
            LockStore::Local(_) => Ok(true),
        };
        match kept {
            Ok(true) => {
                failures = 0;
                info.rvn = rvn;
            }
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                let _ = lost_tx.send(true);
                return;
            }
            Err(_) => {
                failures += 1;
                if failures >= HEARTBEAT_TOLERANCE {
                    lost.store(true, Ordering::SeqCst);
                    let _ = lost_tx.send(true);
                    return;
                }
            }
        }
    }
}

/// Whether `other` conflicts with a request for `name` (same scope assumed).
fn conflicts(name: &str, other: &LockInfo) -> bool {
    name == "*" || other.name == "*" || other.name == name
}

// ----------------------------------------------------------------------------------- memory

/// Locks in memory, for tests.
#[derive(Clone, Debug, Default)]
pub struct MemoryLocks {
    inner: Arc<Mutex<HashMap<String, LockInfo>>>,
}

impl MemoryLocks {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, LockInfo>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn try_acquire(&self, info: LockInfo) -> Result<Acquired, AttemptError> {
        let mut map = self.map();
        let now = now_epoch();
        if let Some(other) = map
            .values()
            .find(|o| o.scope == info.scope && o.live(now) && conflicts(&info.name, o))
        {
            return Err(Conflict(Box::new(other.clone())));
        }
        map.insert(info.id.clone(), info.clone());
        Ok(Acquired::new(info, Vec::new()))
    }

    fn extend(&self, info: &LockInfo, expires: u64) -> bool {
        match self.map().get_mut(&info.id) {
            Some(l) if l.holder_id == info.holder_id => {
                l.expires = expires;
                true
            }
            _ => false,
        }
    }

    fn release(&self, info: &LockInfo) {
        let mut map = self.map();
        if map
            .get(&info.id)
            .is_some_and(|l| l.holder_id == info.holder_id)
        {
            map.remove(&info.id);
        }
    }

    fn list(&self) -> Vec<LockInfo> {
        self.map().values().cloned().collect()
    }

    /// Test hook: makes a lock look expired, as if its holder had died a TTL ago.
    pub fn expire(&self, id: &str) {
        if let Some(l) = self.map().get_mut(id) {
            l.expires = now_epoch().saturating_sub(1);
        }
    }
}

// ------------------------------------------------------------------------------------ local

/// Lock files beside stack.yaml: `.panka/ENV/locks/stack.lock` (exclusive for a stack lock,
/// shared for a service lock) and `service-NAME.lock` (exclusive), each with a `.json` holder
/// record for messages and `panka locks`.
#[derive(Clone, Debug)]
pub struct LocalLocks {
    root: PathBuf,
}

impl LocalLocks {
    pub fn new(stack_root: impl Into<PathBuf>) -> Self {
        LocalLocks {
            root: stack_root.into(),
        }
    }

    fn dir(&self, scope: &str) -> PathBuf {
        let env = scope.split_once('/').map(|(_, e)| e).unwrap_or(scope);
        self.root.join(".panka").join(env).join("locks")
    }

    fn file_stem(name: &str) -> String {
        if name == "*" {
            "stack".into()
        } else {
            name.replace("service:", "service-")
        }
    }

    fn open(path: &std::path::Path) -> Result<File, BackendError> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| BackendError::io(path, e))
    }

    fn try_acquire(&self, mut info: LockInfo) -> Result<Acquired, AttemptError> {
        info.expires = u64::MAX;
        let dir = self.dir(&info.scope);
        std::fs::create_dir_all(&dir).map_err(|e| Failed(BackendError::io(&dir, e)))?;
        let stack_path = dir.join("stack.lock");
        let stack_file = Self::open(&stack_path).map_err(Failed)?;
        let mut files = Vec::new();
        if info.name == "*" {
            if stack_file.try_lock().is_err() {
                return Err(Conflict(Box::new(self.holder_of_any(&info.scope))));
            }
            files.push(stack_file);
        } else {
            if stack_file.try_lock_shared().is_err() {
                return Err(Conflict(Box::new(self.holder_of_any(&info.scope))));
            }
            let path = dir.join(format!("{}.lock", Self::file_stem(&info.name)));
            let file = Self::open(&path).map_err(Failed)?;
            if file.try_lock().is_err() {
                return Err(Conflict(Box::new(
                    self.read_info(&info.scope, &info.name)
                        .unwrap_or_else(|| unknown_holder(&info)),
                )));
            }
            files.push(stack_file);
            files.push(file);
        }
        let record = dir.join(format!("{}.json", Self::file_stem(&info.name)));
        let bytes = serde_json::to_vec_pretty(&info)
            .map_err(|e| Failed(BackendError::Encode { source: e }))?;
        crate::local::write_atomically(&record, &bytes).map_err(Failed)?;
        Ok(Acquired::new(info, files))
    }

    fn read_info(&self, scope: &str, name: &str) -> Option<LockInfo> {
        let path = self
            .dir(scope)
            .join(format!("{}.json", Self::file_stem(name)));
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Whoever holds a lock in `scope`, for the message when a request conflicts.
    fn holder_of_any(&self, scope: &str) -> LockInfo {
        self.list()
            .into_iter()
            .find(|l| l.scope == scope && l.held)
            .unwrap_or_else(|| LockInfo {
                id: format!("{scope}#?"),
                scope: scope.into(),
                name: "?".into(),
                holder: "another process".into(),
                holder_id: String::new(),
                pid: 0,
                operation: "an operation just starting".into(),
                created: now_epoch(),
                expires: u64::MAX,
                held: true,
                rvn: String::new(),
                ttl: default_ttl(),
            })
    }

    fn release(&self, info: &LockInfo) {
        self.remove_info(info);
    }

    fn remove_info(&self, info: &LockInfo) {
        let path = self
            .dir(&info.scope)
            .join(format!("{}.json", Self::file_stem(&info.name)));
        if let Some(current) = self.read_info(&info.scope, &info.name)
            && (current.holder_id == info.holder_id || !info.held || current.holder_id.is_empty())
        {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Holder records of every environment of this stack, each marked held or stale by probing
    /// its lock file.
    fn list(&self) -> Vec<LockInfo> {
        let mut out = Vec::new();
        let Ok(envs) = std::fs::read_dir(self.root.join(".panka")) else {
            return out;
        };
        for env in envs.flatten() {
            let dir = env.path().join("locks");
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            for f in files.flatten() {
                let p = f.path();
                if p.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let Some(mut info) = std::fs::read(&p)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok())
                else {
                    continue;
                };
                let lock_path = p.with_extension("lock");
                // A lock file nobody holds can be locked: its record is stale.
                info.held = match Self::open(&lock_path) {
                    Ok(file) => {
                        let free = file.try_lock().is_ok();
                        let _ = file.unlock();
                        !free
                    }
                    Err(_) => false,
                };
                out.push(info);
            }
        }
        out
    }
}

/// The holder of a lock whose record could not be read (it is being written, or was removed
/// between the attempt and the read).
fn unknown_holder(info: &LockInfo) -> LockInfo {
    LockInfo {
        holder: "another process".into(),
        holder_id: String::new(),
        pid: 0,
        operation: "an operation just starting".into(),
        ..info.clone()
    }
}

// ----------------------------------------------------------------------------------- dynamo

/// Locks in a DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoLocks {
    client: DynamoClient,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoLocks {
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        DynamoLocks {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn item(info: &LockInfo) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("lockScope".to_string(), s(&info.scope)),
            ("lockName".to_string(), s(&info.name)),
            ("holder".to_string(), s(&info.holder)),
            ("holderId".to_string(), s(&info.holder_id)),
            ("pid".to_string(), n(u64::from(info.pid))),
            ("operation".to_string(), s(&info.operation)),
            ("created".to_string(), n(info.created)),
            ("expiresAt".to_string(), n(info.expires)),
            ("rvn".to_string(), s(&info.rvn)),
            ("ttl".to_string(), n(info.ttl)),
        ])
    }

    fn parse(item: &HashMap<String, AttributeValue>) -> Option<LockInfo> {
        let get_s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let get_n = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let scope = get_s("lockScope")?;
        let name = get_s("lockName")?;
        Some(LockInfo {
            id: format!("{scope}#{name}"),
            scope,
            name,
            holder: get_s("holder").unwrap_or_default(),
            holder_id: get_s("holderId").unwrap_or_default(),
            pid: get_n("pid").unwrap_or(0) as u32,
            operation: get_s("operation").unwrap_or_default(),
            created: get_n("created").unwrap_or(0),
            expires: get_n("expiresAt").unwrap_or(0),
            held: true,
            rvn: get_s("rvn").unwrap_or_default(),
            ttl: get_n("ttl").unwrap_or_else(default_ttl),
        })
    }

    fn key(scope: &str, name: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("lockScope".to_string(), s(scope)),
            ("lockName".to_string(), s(name)),
        ])
    }

    async fn get(&self, scope: &str, name: &str) -> Result<Option<LockInfo>, BackendError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(scope, name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                BackendError::aws(
                    format!("reading lock {scope}#{name} from {}", self.table),
                    e.into_service_error(),
                )
            })?;
        Ok(resp.item().and_then(Self::parse))
    }

    /// Claims the lock item. A held item is taken over only when its holder is stale
    /// ([`LockInfo::stale`]) or `silent` names it (holder id and record version a waiter has
    /// seen unchanged for a whole TTL), with a write conditional on that same holder and
    /// version, so two waiters cannot both take it. Then checks the other level.
    async fn try_acquire(
        &self,
        info: LockInfo,
        silent: Option<(String, String)>,
    ) -> Result<Acquired, AttemptError> {
        let now = now_epoch();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(&info)))
            .condition_expression("attribute_not_exists(lockName)")
            .send()
            .await;
        let mut taken_over = None;
        if let Err(e) = put {
            let e = e.into_service_error();
            if !e.is_conditional_check_failed_exception() {
                return Err(Failed(BackendError::aws(
                    format!("taking lock {} in {}", info.id, self.table),
                    e,
                )));
            }
            let Some(holder) = self.get(&info.scope, &info.name).await.map_err(Failed)? else {
                // Released between the two calls: the next attempt claims it.
                return Err(Conflict(Box::new(unknown_holder(&info))));
            };
            let why = holder.stale(now).or_else(|| {
                silent
                    .as_ref()
                    .filter(|(id, rvn)| *id == holder.holder_id && *rvn == holder.rvn)
                    .map(|_| {
                        format!(
                            "it had no heartbeat for {} (its holder stopped)",
                            human_age(holder.ttl)
                        )
                    })
            });
            let Some(why) = why else {
                return Err(Conflict(Box::new(holder)));
            };
            let replaced = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::item(&info)))
                .condition_expression("holderId = :h AND rvn = :r")
                .expression_attribute_values(":h", s(&holder.holder_id))
                .expression_attribute_values(":r", s(&holder.rvn))
                .send()
                .await;
            match replaced {
                Ok(_) => taken_over = Some((holder, why)),
                Err(e) => {
                    let e = e.into_service_error();
                    if e.is_conditional_check_failed_exception() {
                        // Someone renewed or took it in between.
                        return Err(Conflict(Box::new(holder)));
                    }
                    return Err(Failed(BackendError::aws(
                        format!("taking over lock {} in {}", info.id, self.table),
                        e,
                    )));
                }
            }
        }
        // Claimed; now check the other level of the hierarchy.
        let live = |o: &LockInfo| o.stale(now).is_none();
        let rival = if info.name == "*" {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("lockScope = :s")
                .expression_attribute_values(":s", s(&info.scope))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| {
                    Failed(BackendError::aws(
                        format!("reading locks of {} from {}", info.scope, self.table),
                        e.into_service_error(),
                    ))
                })?;
            resp.items()
                .iter()
                .filter_map(Self::parse)
                .find(|o| o.name != "*" && live(o))
        } else {
            self.get(&info.scope, "*")
                .await
                .map_err(Failed)?
                .filter(|o| live(o))
        };
        if let Some(rival) = rival {
            self.delete(&info, true).await.map_err(Failed)?;
            return Err(Conflict(Box::new(rival)));
        }
        Ok(Acquired {
            info,
            files: Vec::new(),
            taken_over,
        })
    }

    /// Extends the lock and changes its record version; `Ok(false)` when it is no longer this
    /// holder's.
    async fn extend(&self, info: &LockInfo, expires: u64, rvn: &str) -> Result<bool, BackendError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&info.scope, &info.name)))
            .update_expression("SET expiresAt = :e, rvn = :r")
            .condition_expression("holderId = :h")
            .expression_attribute_values(":e", n(expires))
            .expression_attribute_values(":r", s(rvn))
            .expression_attribute_values(":h", s(&info.holder_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(BackendError::aws(
                        format!("renewing lock {} in {}", info.id, self.table),
                        e,
                    ))
                }
            }
        }
    }

    async fn release(&self, info: &LockInfo) -> Result<(), BackendError> {
        self.delete(info, true).await
    }

    /// Deletes a lock item; `own` makes it conditional on still being this holder's.
    async fn delete(&self, info: &LockInfo, own: bool) -> Result<(), BackendError> {
        let mut req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&info.scope, &info.name)));
        if own {
            req = req
                .condition_expression("holderId = :h")
                .expression_attribute_values(":h", s(&info.holder_id));
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(())
                } else {
                    Err(BackendError::aws(
                        format!("releasing lock {} in {}", info.id, self.table),
                        e,
                    ))
                }
            }
        }
    }

    async fn list(&self) -> Result<Vec<LockInfo>, BackendError> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let resp = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    BackendError::aws(
                        format!("listing locks in {}", self.table),
                        e.into_service_error(),
                    )
                })?;
            out.extend(resp.items().iter().filter_map(Self::parse));
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }
}
