//! panka's deployment orchestration, the library the CLI calls: take the locks, resolve what a
//! killed run left, refresh, plan, judge the plan with policies, ask for approval, execute, and
//! record the deployment.
//!
//! - [`run`]: one run of apply, destroy, rollback or remediate ([`Deployer::run`]).
//! - [`locking`]: the locks a run holds, taken in a fixed order and fenced in the state.
//! - [`refresh`]: reading recorded resources from AWS.
//! - [`conflicts`]: creates whose AWS name a resource panka does not own already has.
//! - [`stop`]: Ctrl-C and SIGTERM.
//! - [`record`]: deployment records.
//! - [`metrics`]: deployment metrics in CloudWatch.

pub mod conflicts;
pub mod locking;
pub mod metrics;
pub mod record;
pub mod refresh;
pub mod run;
pub mod stop;

pub use run::{
    Applied, DEFAULT_LOCK_WAIT, Deployer, Finished, MakePlan, Rollback, RunOptions, SHARED_LOCK,
    SHARED_LOCK_WAIT, Ui,
};
pub use stop::{Stop, StopHandle};

/// Why a run did not get to execute its plan.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A stop (Ctrl-C, SIGTERM) before anything was applied; the locks were released.
    #[error("stopped while {phase}; nothing was applied")]
    Stopped { phase: &'static str },
    #[error("taking the lock on {scope}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Lock {
        scope: String,
        #[source]
        source: panka_backend::BackendError,
        hint: Option<&'static str>,
    },
    #[error("reading or writing the state")]
    State(#[source] panka_backend::BackendError),
    #[error("resolving what a previous run left unfinished: {0}")]
    Recovery(String),
    #[error(transparent)]
    Refresh(#[from] refresh::RefreshError),
    #[error(transparent)]
    Plan(panka_plan::PlanError),
    #[error("evaluating the policies")]
    Policy(#[source] panka_policy::PolicyError),
    #[error("the plan is denied by {denials} policy rule{}", if *denials == 1 { "" } else { "s" })]
    Denied { denials: usize },
    #[error("asking for approval: {0}")]
    Prompt(String),
    #[error(
        "the plan still changes {} after taking {} lock; apply those first, or run without --service to lock the whole stack",
        services.iter().map(|s| format!("service `{s}`")).collect::<Vec<_>>().join(", "),
        if services.len() == 1 { "its" } else { "their" }
    )]
    Outside { services: Vec<String> },
}

/// The message and every cause of an error, for summaries.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
