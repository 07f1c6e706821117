//! Planning: what an apply would do to bring recorded state to what the YAML describes.
//!
//! Pure: a resolved [`panka_format::Stack`] and an optional [`panka_state::State`] in, a
//! [`Plan`] out. Each resource's configuration is diffed field by field; a change to a field its
//! kind cannot update in place makes a replacement; resources gone from the YAML are deleted
//! after everything else, dependents first; stateful kinds are never deleted or replaced without
//! `--allow-destroy`. Plans render as text ([`render_text`]) or JSON (the [`Plan`] type, schema in
//! docs/schema/plan.schema.json).

pub mod cost;
pub mod desired;
pub mod diff;
pub mod plan;
pub mod render;

pub use plan::{
    Action, ActionKind, KeptBack, PLAN_FORMAT_VERSION, Plan, PlanError, PlanOptions, Summary,
    Targeting, auto_rollback_plan, plan, record_in_memory, rollback_plan,
};
pub use render::render_text;

/// The JSON Schema of the plan document.
pub fn plan_schema_json() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Plan>();
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}
