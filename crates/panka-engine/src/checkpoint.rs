//! Coalesced state checkpoints.
//!
//! Actions hand their state changes to one [`Checkpointer`] task. It merges whatever has queued
//! up while the previous write was in flight into the next write, so a slow store never holds
//! up ready work and many actions finishing together cost one write. Writes are spaced by the
//! time the last one would take to transfer at the store's write rate
//! ([`StateStore::write_rate`]), which keeps the bytes written in a run proportional to its
//! duration rather than to actions × state size.

use std::time::Duration;

use panka_backend::{Changes, StateKey, StateStore, Stored, commit_from};
use panka_state::State;
use tokio::sync::{mpsc, oneshot};

/// The longest pause between two writes, so an intent never waits long to become durable.
pub const MAX_SPACING: Duration = Duration::from_secs(1);

struct Message {
    changes: Changes,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle actions record their changes through.
#[derive(Clone)]
pub struct Checkpointer {
    tx: mpsc::UnboundedSender<Message>,
}

/// The writer task's result.
pub type Writer = tokio::task::JoinHandle<(Option<State>, usize)>;

impl Checkpointer {
    /// Starts the writer for `key`; `lineage` is the state's (None for a first apply);
    /// `fence` the locks the run holds, which every write carries (see
    /// [`Changes::fence`]).
    pub fn start(
        store: StateStore,
        key: StateKey,
        lineage: Option<String>,
        fence: Vec<(String, String)>,
    ) -> (Checkpointer, Writer) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(writer(store, key, lineage, fence, rx));
        (Checkpointer { tx }, handle)
    }

    /// Records `changes` and waits until they are durable.
    ///
    /// # Errors
    /// The write failed (the message says why) or the writer has stopped.
    pub async fn record(&self, changes: Changes) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Message { changes, done })
            .map_err(|_| "the state writer has stopped".to_string())?;
        wait.await
            .map_err(|_| "the state writer has stopped".to_string())?
    }
}

fn merge(into: &mut Changes, more: Changes) {
    for (k, v) in more.resources {
        into.resources.insert(k, v);
    }
    for id in more.resolve_intents {
        // An intent added and resolved within one batch never needs to reach the store.
        if let Some(i) = into.add_intents.iter().position(|x| x.id == id) {
            into.add_intents.remove(i);
        } else {
            into.resolve_intents.push(id);
        }
    }
    into.add_intents.extend(more.add_intents);
    if more.deployment.is_some() {
        into.deployment = more.deployment;
    }
}

async fn writer(
    store: StateStore,
    key: StateKey,
    mut lineage: Option<String>,
    fence: Vec<(String, String)>,
    mut rx: mpsc::UnboundedReceiver<Message>,
) -> (Option<State>, usize) {
    let mut last: Option<Stored> = None;
    let mut writes = 0;
    let rate = store.write_rate();
    while let Some(first) = rx.recv().await {
        let mut batch = first.changes;
        let mut waiters = vec![first.done];
        while let Ok(m) = rx.try_recv() {
            merge(&mut batch, m.changes);
            waiters.push(m.done);
        }
        batch.fence = fence.clone();
        let result = commit_from(&store, &key, lineage.as_deref(), &batch, last.take()).await;
        writes += 1;
        let outcome = match result {
            Ok(stored) => {
                let state = &stored.state;
                lineage = Some(state.lineage.clone());
                let spacing = match rate {
                    Some(rate) => {
                        let size = serde_json::to_vec(state).map(|b| b.len()).unwrap_or(0);
                        Duration::from_secs_f64(size as f64 / rate).min(MAX_SPACING)
                    }
                    None => Duration::ZERO,
                };
                last = Some(stored);
                Ok(spacing)
            }
            Err(e) => Err(error_chain(&e)),
        };
        for w in waiters {
            let _ = w.send(outcome.clone().map(|_| ()));
        }
        if let Ok(spacing) = outcome
            && !spacing.is_zero()
        {
            tokio::time::sleep(spacing).await;
        }
    }
    (last.map(|s| s.state), writes)
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
