//! Executing plans against AWS through providers.
//!
//! - [`provider`]: the provider contract, typed per kind and erased for the engine.
//! - [`executor`]: eager scheduling within a bound, intents, checkpoints, failure handling.
//! - [`observe`]: reconciling what a read observed with the recorded configuration.
//! - [`checkpoint`]: coalesced state writes.
//! - [`recover`]: resolving intents a killed apply left pending.
//! - [`testing`]: an in-memory provider with simulated latency, for tests and benchmarks.

pub mod checkpoint;
pub mod executor;
pub mod observe;
pub mod provider;
pub mod recover;
pub mod resolve;
pub mod testing;

pub use executor::{
    Event, ExecuteOptions, Failure, Outcome, Report, Retries, RetryPolicy, execute,
};
pub use provider::{
    ErrorKind, Identity, KindProvider, Observation, Observed, Provider, ProviderError, Recorded,
    Registry, Request, Target, Transient, Unobservable,
};
pub use recover::{Recovered, recover};
