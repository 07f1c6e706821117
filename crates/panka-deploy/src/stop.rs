//! Stopping a run: Ctrl-C (SIGINT) or SIGTERM at any moment.
//!
//! The first signal asks the run to stop cleanly: nothing new starts, running AWS calls finish
//! (or stay recorded as pending intents), the state is saved, the lock is released. A second
//! signal stops the process at once, leaving recorded intents for the next run's recovery.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// Exit status of a process stopped by a second signal (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A run's stop request: a cheap handle each phase polls or awaits.
#[derive(Clone, Debug)]
pub struct Stop {
    rx: watch::Receiver<bool>,
}

/// Asks the runs holding the matching [`Stop`] to stop.
#[derive(Clone, Debug)]
pub struct StopHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl StopHandle {
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }
}

impl Stop {
    /// A stop request and the handle that makes it.
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = watch::channel(false);
        (StopHandle { tx: Arc::new(tx) }, Stop { rx })
    }

    /// A stop that never comes (tests, library use without signals).
    pub fn never() -> Stop {
        Stop::new().1
    }

    /// A stop made by SIGINT or SIGTERM. The first signal stops the run cleanly and calls
    /// `on_first` (to say so); the second calls `on_second`, which is expected to end the
    /// process (`std::process::exit(EXIT_INTERRUPTED)`).
    ///
    /// # Errors
    /// The signal handlers cannot be installed.
    pub fn from_signals(
        on_first: impl Fn() + Send + Sync + 'static,
        on_second: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let (handle, stop) = Stop::new();
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let seen = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    s = interrupt.recv() => if s.is_none() { break },
                    s = terminate.recv() => if s.is_none() { break },
                }
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    handle.stop();
                    on_first();
                } else {
                    on_second();
                }
            }
        });
        Ok(stop)
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes when a stop is asked for (never, if the handle is gone without asking).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        loop {
            if *rx.borrow_and_update() {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The stop as the engine's cancellation channel.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }
}
