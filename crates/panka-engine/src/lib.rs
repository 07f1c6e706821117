//! Executing plans against AWS through providers.
//!
//! - [`provider`]: the provider contract, typed per kind and erased for the engine.
//! - [`executor`]: eager scheduling within a bound, intents, checkpoints, failure handling.
//! - [`checkpoint`]: coalesced state writes.
//! - [`recover`]: resolving intents a killed apply left pending.
//! - [`testing`]: an in-memory provider with simulated latency, for tests and benchmarks.

pub mod checkpoint;
pub mod executor;
pub mod provider;
pub mod recover;
pub mod resolve;
pub mod testing;

pub use executor::{Event, ExecuteOptions, Outcome, Report, execute};
pub use provider::{
    ErrorKind, KindProvider, Observed, Provider, ProviderError, Registry, Request, Target,
};
pub use recover::{Recovered, recover};
