//! The panka stack format: the typed model of every document and component kind, loading a
//! stack for one environment (discovery, overlays, variables, references) and validation with
//! diagnostics that name the file, line and column.
//!
//! This crate is pure: no AWS SDK, no network, no clock. It builds and tests in seconds.
//!
//! ```text
//! files ──parse──▶ spanned YAML trees ──merge overlays──▶ ──interpolate──▶ ──schema check──▶
//!       typed specs ──rules (names, kinds, references, cycles)──▶ model::Stack + diagnostics
//! ```

pub mod diagnostic;
pub mod interpolate;
pub mod kinds;
pub mod load;
pub mod merge;
pub mod model;
pub mod naming;
pub mod reference;
pub mod routes;
pub mod rules;
pub mod schema;
pub mod source;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use kinds::{ComponentSpec, Kind, KindInfo};
pub use load::{LoadError, LoadOptions, Loaded, load};
pub use model::{Address, Component, Stack};
