//! The locks a run holds: taken in one fixed order (the whole stack's first, then services by
//! name) so that two runs that each need several can never wait for each other in a cycle;
//! fenced in the state as soon as they are taken; watched for loss.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use panka_backend::{
    Changes, LockGuard, LockInfo, LockRequest, LockScope, LockStore, StateKey, StateStore, commit,
};
use tokio::sync::watch;

use crate::stop::Stop;
use crate::{DeployError, Ui};

/// A lock's name as stored and fenced: `*` for the stack, `service:NAME`.
pub fn lock_name(scope: &LockScope) -> String {
    match scope {
        LockScope::Stack => "*".into(),
        LockScope::Service(s) => format!("service:{s}"),
    }
}

/// The locks a run holds, by name.
pub struct Held {
    guards: BTreeMap<String, LockGuard>,
    /// How long taking them waited for other holders.
    pub waited: Duration,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("locks", &self.guards.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How to take locks.
#[derive(Clone, Debug)]
pub struct LockOptions {
    pub key: StateKey,
    /// What the run does (`apply`), shown to other runs.
    pub operation: String,
    /// How long to wait for a live holder; zero fails at once.
    pub wait: Duration,
    /// How long a lock lives without a heartbeat.
    pub ttl: Duration,
}

impl Held {
    /// No locks.
    pub fn none() -> Held {
        Held {
            guards: BTreeMap::new(),
            waited: Duration::ZERO,
        }
    }

    /// Takes `scopes` in order (the stack's lock first, then services by name), waiting for
    /// live holders up to the options' wait and saying whom it waits for, and records them as
    /// the state's fences. On any failure, what was taken is released.
    ///
    /// # Errors
    /// [`DeployError::Lock`] when a lock stays held, [`DeployError::Stopped`] on a stop.
    pub async fn take(
        locks: &LockStore,
        store: &StateStore,
        scopes: &[LockScope],
        options: &LockOptions,
        stop: &Stop,
        ui: &dyn Ui,
    ) -> Result<Held, DeployError> {
        let mut held = Held::none();
        let mut ordered: Vec<(String, LockScope)> =
            scopes.iter().map(|s| (lock_name(s), s.clone())).collect();
        ordered.sort_by(|a, b| a.0.cmp(&b.0));
        ordered.dedup_by(|a, b| a.0 == b.0);
        for (name, scope) in ordered {
            match held.take_one(locks, scope, options, stop, ui).await {
                Ok(guard) => {
                    held.guards.insert(name, guard);
                }
                Err(e) => {
                    held.release(ui).await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = held.fence_in(store, &options.key).await {
            held.release(ui).await;
            return Err(e);
        }
        Ok(held)
    }

    async fn take_one(
        &mut self,
        locks: &LockStore,
        scope: LockScope,
        options: &LockOptions,
        stop: &Stop,
        ui: &dyn Ui,
    ) -> Result<LockGuard, DeployError> {
        let mut request = LockRequest::new(
            options.key.clone(),
            scope.clone(),
            &options.operation,
            options.wait,
        );
        request.ttl = options.ttl;
        let started = Instant::now();
        let mut waited_for = false;
        let mut say = |holder: &LockInfo| {
            waited_for = true;
            ui.note(&format!(
                "Waiting for {} (held by {} (pid {}) for `{}`); up to {} in all (--lock-timeout)…",
                describe_scope(&scope),
                holder.holder,
                holder.pid,
                holder.operation,
                panka_backend::locks::human_age(options.wait.as_secs())
            ));
        };
        let guard = tokio::select! {
            g = locks.acquire_observed(&request, &mut say) => g.map_err(|e| lock_error(e, &scope))?,
            () = stop.wait() => return Err(DeployError::Stopped { phase: "waiting for a lock" }),
        };
        if waited_for {
            self.waited += started.elapsed();
        }
        if let Some((previous, why)) = guard.taken_over() {
            ui.note(&format!(
                "Took over the lock on {} from {} (pid {}, `{}`): {why}.",
                describe_scope(&scope),
                previous.holder,
                previous.pid,
                previous.operation
            ));
        }
        Ok(guard)
    }

    /// Records the held locks as the state's fences, so that a run these locks were taken
    /// from can no longer write.
    async fn fence_in(&self, store: &StateStore, key: &StateKey) -> Result<(), DeployError> {
        if self.guards.is_empty() {
            return Ok(());
        }
        let lineage = store
            .read(key)
            .await
            .map_err(DeployError::State)?
            .map(|s| s.state.lineage);
        let changes = Changes {
            fence: self.fence(),
            take_fences: true,
            ..Changes::default()
        };
        commit(store, key, lineage.as_deref(), &changes)
            .await
            .map_err(DeployError::State)?;
        Ok(())
    }

    /// (lock name, holder id) of every held lock: what each state write carries.
    pub fn fence(&self) -> Vec<(String, String)> {
        self.guards
            .iter()
            .map(|(name, g)| (name.clone(), g.info().holder_id.clone()))
            .collect()
    }

    /// Whether these locks cover the resources of `service` (the stack's lock covers all).
    pub fn covers(&self, service: &str) -> bool {
        self.guards.contains_key("*") || self.guards.contains_key(&format!("service:{service}"))
    }

    /// Whether the whole stack is locked.
    pub fn whole_stack(&self) -> bool {
        self.guards.contains_key("*")
    }

    /// The services whose locks are held.
    pub fn services(&self) -> Vec<String> {
        self.guards
            .keys()
            .filter_map(|n| n.strip_prefix("service:").map(str::to_string))
            .collect()
    }

    /// Whether a lock is lost (taken over, or its heartbeats failing).
    pub fn lost(&self) -> bool {
        self.guards.values().any(LockGuard::lost)
    }

    /// A channel that turns true when any held lock is lost.
    pub fn lost_signal(&self) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(self.lost());
        let tx = std::sync::Arc::new(tx);
        for mut signal in self.guards.values().map(LockGuard::lost_signal) {
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    if *signal.borrow_and_update() {
                        tx.send_replace(true);
                        return;
                    }
                    if signal.changed().await.is_err() {
                        // Released: nothing more to watch.
                        return;
                    }
                }
            });
        }
        rx
    }

    /// Adds locks taken separately (a run that widens its scope).
    pub fn absorb(&mut self, other: Held) {
        self.waited += other.waited;
        self.guards.extend(other.guards);
    }

    /// Releases every lock, saying which could not be released (they then expire on their own).
    pub async fn release(self, ui: &dyn Ui) {
        for (name, guard) in self.guards {
            if let Err(e) = guard.release().await {
                ui.note(&format!(
                    "Could not release lock `{name}` ({e}); it expires on its own."
                ));
            }
        }
    }

    /// Releases one lock by name.
    pub async fn release_one(&mut self, name: &str, ui: &dyn Ui) {
        if let Some(guard) = self.guards.remove(name)
            && let Err(e) = guard.release().await
        {
            ui.note(&format!(
                "Could not release lock `{name}` ({e}); it expires on its own."
            ));
        }
    }
}

fn describe_scope(scope: &LockScope) -> String {
    match scope {
        LockScope::Stack => "the whole stack".into(),
        LockScope::Service(s) => format!("service `{s}`"),
    }
}

fn lock_error(e: panka_backend::BackendError, scope: &LockScope) -> DeployError {
    let missing_table = format!("{e:?}").contains("ResourceNotFound");
    DeployError::Lock {
        scope: describe_scope(scope),
        source: e,
        hint: missing_table.then_some(
            "the lock table does not exist yet: create it with `panka backend init` (same --stack and -e)",
        ),
    }
}
