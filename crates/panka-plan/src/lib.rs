//! Planning: what an apply would do to bring recorded state to what the YAML describes.

pub mod desired;
pub mod diff;
