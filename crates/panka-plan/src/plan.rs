//! Building a plan: the actions that bring recorded state to the desired stack.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use panka_format::Stack;
use panka_format::diagnostic::did_you_mean;
use panka_graph::{GraphError, Resource, ResourceGraph, ResourceKind, stack_resources};
use panka_state::{RecordedConfig, State};

use crate::cost::{MonthlyCost, PRICED_REGIONS, PRICES_AS_OF, monthly_cost, priced_class};
use crate::desired::{ConfigBuilder, Scratch};
use crate::diff::{FieldChange, diff};

/// The version of the plan document's shape (`panka plan --output json`, `--out FILE`).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What happens to one resource.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    NoOp,
    Create,
    Update,
    /// Delete the existing resource and create it anew (AWS names are deterministic, so the new
    /// one cannot exist beside the old).
    Replace,
    Delete,
}

impl ActionKind {
    pub fn is_replace(self) -> bool {
        self == ActionKind::Replace
    }

    /// The symbol plans show: `+` create, `✓` update, `⚠` replace, `-` delete.
    pub fn symbol(self) -> &'static str {
        match self {
            ActionKind::NoOp => " ",
            ActionKind::Create => "+",
            ActionKind::Update => "✓",
            ActionKind::Replace => "⚠",
            ActionKind::Delete => "-",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            ActionKind::NoOp => "no change",
            ActionKind::Create => "create",
            ActionKind::Update => "update in place",
            ActionKind::Replace => "replace",
            ActionKind::Delete => "delete",
        }
    }
}

/// One resource's action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// `service/component`, or `_shared/cluster`, `_shared/load-balancer` and `_shared/namespace`.
    pub address: String,
    /// Component kind, or `SharedCluster` / `SharedLoadBalancer` / `SharedNamespace`.
    #[schemars(with = "String")]
    pub kind: ResourceKind,
    pub action: ActionKind,
    /// Dependency level, from 1. Deletes come after every other wave, dependents first.
    pub wave: usize,
    /// Addresses this resource needs first (for deletes: as recorded in state).
    pub depends_on: Vec<String>,
    /// Changed fields (update and replace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// The kind holds data.
    pub stateful: bool,
    /// The configuration to apply (absent for deletes). Secrets appear as references only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Estimated monthly cost before and after, in USD.
    pub monthly_cost: CostChange,
}

impl Action {
    /// The fields whose change forces the replacement.
    pub fn replace_reasons(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|c| c.forces_replacement)
            .map(|c| c.path.as_str())
            .collect()
    }
}

/// Counts of actions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Summary {
    /// The counts of `actions`.
    pub fn of(actions: &[Action]) -> Summary {
        let mut summary = Summary::default();
        for a in actions {
            match a.action {
                ActionKind::NoOp => summary.no_op += 1,
                ActionKind::Create => summary.create += 1,
                ActionKind::Update => summary.update += 1,
                ActionKind::Replace => summary.replace += 1,
                ActionKind::Delete => summary.delete += 1,
            }
        }
        summary
    }

    pub fn changes(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

/// Cost before and after.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostChange {
    pub current: f64,
    pub planned: f64,
}

/// Per-kind cost lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindCost {
    pub kind: String,
    pub current: f64,
    pub planned: f64,
}

/// The plan's cost estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    pub currency: String,
    /// Date of the price table.
    pub prices_as_of: String,
    /// The region whose prices were used (us-east-1's for regions the table lacks).
    pub price_region: String,
    pub current: f64,
    pub planned: f64,
    pub delta: f64,
    pub by_kind: Vec<KindCost>,
    /// Kinds priced by use, counted as zero.
    pub usage_based: Vec<String>,
    /// Instance classes the table lacks, counted as zero: `address (class)`.
    pub unpriced: Vec<String>,
}

/// Which resources a plan covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Targeting {
    /// `--service`: every component of these services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// `--component`: these components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// `--exclude`: never these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Targeting {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.components.is_empty() && self.exclude.is_empty()
    }
}

/// A plan: the input of `apply`, and the document `--output json` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    pub stack: String,
    pub environment: String,
    pub region: String,
    /// The state the plan was made against: `apply PLANFILE` refuses a state that has moved on.
    pub state_lineage: Option<String>,
    pub state_serial: Option<u64>,
    #[serde(default, skip_serializing_if = "Targeting::is_empty")]
    pub targeting: Targeting,
    /// Every resource in scope, sorted by wave then address (no-ops included).
    pub actions: Vec<Action>,
    pub summary: Summary,
    pub cost: CostEstimate,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.summary.changes() > 0
    }

    /// Actions by wave (1-based waves; index 0 is wave 1).
    pub fn waves(&self) -> Vec<Vec<&Action>> {
        let count = self.actions.iter().map(|a| a.wave).max().unwrap_or(0);
        let mut waves = vec![Vec::new(); count];
        for a in &self.actions {
            waves[a.wave - 1].push(a);
        }
        waves
    }

    /// Whether `state` is the one this plan was made against.
    ///
    /// # Errors
    /// [`PlanError::StaleState`] naming the lineage or serial that differs.
    pub fn check_state(&self, state: Option<&State>) -> Result<(), PlanError> {
        let now = (state.map(|s| s.lineage.clone()), state.map(|s| s.serial));
        if now != (self.state_lineage.clone(), self.state_serial) {
            return Err(PlanError::StaleState {
                planned: describe(self.state_lineage.as_deref(), self.state_serial),
                current: describe(now.0.as_deref(), now.1),
            });
        }
        Ok(())
    }
}

fn describe(lineage: Option<&str>, serial: Option<u64>) -> String {
    match (lineage, serial) {
        (Some(l), Some(s)) => format!("lineage {l}, serial {s}"),
        _ => "no state".into(),
    }
}

/// Options of `panka plan`.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub targeting: Targeting,
    /// `--allow-destroy ADDRESS`: stateful resources that may be deleted or replaced.
    pub allow_destroy: Vec<String>,
    /// The plan is a destroy's: a delete is the command's doing, not the YAML's.
    pub destroying: bool,
}

/// A stateful resource the plan would delete or replace without permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protected {
    pub address: String,
    pub kind: String,
    pub action: ActionKind,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}", protected_message(.0))]
    ProtectedDestroy(Vec<Protected>),
    #[error("the dependency graph is not a DAG")]
    Graph(#[from] GraphError),
    #[error("{what} `{name}` is not in this stack{}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownTarget {
        what: &'static str,
        name: String,
        suggestion: Option<String>,
    },
    #[error(
        "the state changed since the plan was made (plan: {planned}; now: {current}); plan again"
    )]
    StaleState { planned: String, current: String },
    #[error(
        "the state belongs to stack `{state_stack}` environment `{state_env}`, not `{stack}` `{env}`"
    )]
    WrongState {
        state_stack: String,
        state_env: String,
        stack: String,
        env: String,
    },
}

fn protected_message(items: &[Protected]) -> String {
    let mut s = format!(
        "the plan would destroy data in {} stateful resource{}:",
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    );
    for p in items {
        s.push_str(&format!(
            "\n  - {} ({}) would be {}: {}",
            p.address,
            p.kind,
            if p.action == ActionKind::Delete {
                "deleted"
            } else {
                "replaced"
            },
            p.reason
        ));
    }
    s.push_str("\nto go ahead, pass --allow-destroy ADDRESS for each (or change the YAML back)");
    s
}

/// Plans `stack` against `state`.
///
/// # Errors
/// [`PlanError::ProtectedDestroy`] when a stateful resource would be deleted or replaced without
/// `--allow-destroy`; [`PlanError::UnknownTarget`] for a target that is not in the stack;
/// [`PlanError::WrongState`] for a state of another stack or environment.
pub fn plan(
    stack: &Stack,
    state: Option<&State>,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    if let Some(s) = state
        && (s.stack != stack.name || s.environment != stack.environment)
    {
        return Err(PlanError::WrongState {
            state_stack: s.stack.clone(),
            state_env: s.environment.clone(),
            stack: stack.name.clone(),
            env: stack.environment.clone(),
        });
    }
    // Configurations are built one resource at a time and dropped as soon as the resource is
    // found unchanged: a large stack never holds all its desired configurations at once.
    let builder = ConfigBuilder::new(stack);
    let graph = ResourceGraph::new(stack_resources(stack))?;
    let resources = graph.resources();
    // Shared resources come first, then the components in stack order.
    let first_component = resources.len() - stack.components.len();
    let in_scope = scope(stack, &graph, &options.targeting)?;
    let empty = imbl::OrdMap::new();
    let recorded = state.map(|s| &s.resources).unwrap_or(&empty);

    // Each desired resource's recorded state, found in one pass over the state; what the pass
    // does not place is no longer desired. The pass goes in address order, and the positions it
    // places, in that order, put the plan's actions in order at the end.
    let mut recorded_at = vec![None; resources.len()];
    let mut recorded_in_order = Vec::with_capacity(recorded.len());
    let mut unmatched = 0;
    for (address, r) in recorded {
        match graph.position(address) {
            Some(i) => {
                recorded_at[i] = Some(r.as_ref());
                recorded_in_order.push(i);
            }
            None => unmatched += 1,
        }
    }
    let mut actions = Vec::with_capacity(resources.len());
    // The resource (position) of each action.
    let mut action_positions = Vec::with_capacity(resources.len());
    let mut scratch = Scratch::default();
    let mut cost_notes = CostNotes::default();
    for (i, r) in resources.iter().enumerate() {
        if in_scope
            .as_ref()
            .is_some_and(|s| !s.contains(r.address.as_str()))
        {
            continue;
        }
        let wave = graph.wave_at(i) + 1;
        let component = i
            .checked_sub(first_component)
            .and_then(|c| stack.components.get_index(c))
            .map(|(_, c)| c);
        debug_assert!(
            component.is_none_or(|c| c.address.to_text() == r.address),
            "resource {i} is component {:?}, not {}",
            component.map(|c| &c.address),
            r.address
        );
        let before = recorded_at[i];
        let ready = |b: &panka_state::ResourceState| b.status == panka_state::ResourceStatus::Ready;
        let view = component.map(|c| builder.component(c));
        let build = || match &view {
            Some(v) => v.to_value(),
            None => builder.config(&r.address),
        };
        // Most resources of a large stack are unchanged: they are told apart without building
        // their configuration or parsing the recorded one.
        let unchanged = |b: &panka_state::ResourceState, scratch: &mut Scratch| match &view {
            Some(v) => v.is_recorded(&b.config, scratch),
            None => builder.is_recorded(&r.address, &b.config, scratch),
        };
        let (action, changes, desired) = match before {
            Some(b) if ready(b) && unchanged(b, &mut scratch) => {
                (ActionKind::NoOp, Vec::new(), None)
            }
            None => (ActionKind::Create, Vec::new(), Some(build())),
            Some(b) => {
                let config = build();
                let changes = diff(&b.config.value(), &config, r.kind);
                // A resource left pending or failed is updated so that apply re-converges it,
                // or replaced when what changed forces it (a replace a kill cut short keeps the
                // old resource recorded as pending: its successor has another AWS name).
                let action = match action_of(&changes) {
                    ActionKind::NoOp if !ready(b) => ActionKind::Update,
                    other => other,
                };
                (action, changes, Some(config))
            }
        };
        // The desired configuration's cost (unchanged, it is the recorded one's).
        let (cost, class) = match (&view, &desired) {
            (Some(v), _) => (v.monthly_cost(&stack.region), v.priced_class()),
            (None, Some(config)) => (
                monthly_cost(r.kind, config, &stack.region),
                priced_class(r.kind, config),
            ),
            // The stack's shared resources are priced by kind alone.
            (None, None) => (monthly_cost(r.kind, &Value::Null, &stack.region), None),
        };
        match cost {
            MonthlyCost::UsageBased => {
                cost_notes.usage_based.insert(r.kind.name());
            }
            MonthlyCost::Unknown => {
                cost_notes.unpriced.insert(
                    r.address.clone(),
                    class.unwrap_or("unknown class").to_string(),
                );
            }
            MonthlyCost::Fixed(_) => {}
        }
        action_positions.push(i);
        actions.push(action_for(
            r,
            desired,
            action,
            wave,
            changes,
            cost.amount(),
            &stack.region,
        ));
    }

    refresh_dependents(stack, |a| builder.config(a), resources, &mut actions);

    // Resources recorded in state but no longer desired: deleted after every other wave, each
    // after the deleted resources that depend on it.
    let doomed: Vec<(&String, &panka_state::ResourceState)> = if unmatched == 0 {
        Vec::new()
    } else {
        let desired_addresses: HashSet<&str> =
            resources.iter().map(|r| r.address.as_str()).collect();
        recorded
            .iter()
            .map(|(a, r)| (a, r.as_ref()))
            .filter(|(a, _)| {
                !desired_addresses.contains(a.as_str()) && deletion_in_scope(a, &options.targeting)
            })
            .collect()
    };
    let mut actions = in_wave_order(actions, &action_positions, resources, &recorded_in_order);
    let base_wave = actions.last().map_or(0, |a| a.wave);
    let levels = delete_levels(&doomed);
    let mut deletes = Vec::with_capacity(doomed.len());
    for (address, r) in &doomed {
        let kind = ResourceKind::parse(&r.kind).unwrap_or(ResourceKind::SharedCluster);
        let current = monthly_cost(kind, &r.config.value(), &stack.region).amount();
        deletes.push(Action {
            address: (*address).clone(),
            kind,
            action: ActionKind::Delete,
            wave: base_wave + 1 + levels[address.as_str()],
            depends_on: r.dependencies.clone(),
            changes: Vec::new(),
            stateful: kind.stateful(),
            config: None,
            monthly_cost: CostChange {
                current,
                planned: 0.0,
            },
        });
    }
    // Found in address order; stable, so by address within a wave.
    deletes.sort_by_key(|a| a.wave);
    actions.append(&mut deletes);

    let protected = protected(&actions, options);
    if !protected.is_empty() {
        return Err(PlanError::ProtectedDestroy(protected));
    }

    let summary = Summary::of(&actions);
    let cost = estimate(&actions, &cost_notes, &stack.region);
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        stack: stack.name.clone(),
        environment: stack.environment.clone(),
        region: stack.region.clone(),
        state_lineage: state.map(|s| s.lineage.clone()),
        state_serial: state.map(|s| s.serial),
        targeting: options.targeting.clone(),
        actions,
        summary,
        cost,
    })
}

/// `actions` (action `k` is for the resource at `positions[k]`, positions increasing) by wave,
/// and by address within a wave, in time linear in their number: the resources the state
/// records come in address order from it (`recorded_in_order`, positions), only the others are
/// sorted, the two are merged, and a counting sort by wave keeps that order within each wave.
fn in_wave_order(
    actions: Vec<Action>,
    positions: &[usize],
    resources: &[Resource],
    recorded_in_order: &[usize],
) -> Vec<Action> {
    const NONE: usize = usize::MAX;
    let mut action_at = vec![NONE; resources.len()];
    for (k, &p) in positions.iter().enumerate() {
        action_at[p] = k;
    }
    let mut recorded = vec![false; resources.len()];
    for &p in recorded_in_order {
        recorded[p] = true;
    }
    let mut unrecorded: Vec<usize> = positions
        .iter()
        .copied()
        .filter(|&p| !recorded[p])
        .collect();
    unrecorded.sort_by(|&a, &b| resources[a].address.cmp(&resources[b].address));
    let in_scope: Vec<usize> = recorded_in_order
        .iter()
        .copied()
        .filter(|&p| action_at[p] != NONE)
        .collect();
    // Merge the two address-ordered lists into action indices in address order.
    let mut by_address = Vec::with_capacity(actions.len());
    let (mut x, mut y) = (0, 0);
    while x < in_scope.len() || y < unrecorded.len() {
        let take_recorded = y == unrecorded.len()
            || (x < in_scope.len()
                && resources[in_scope[x]].address < resources[unrecorded[y]].address);
        let p = if take_recorded {
            x += 1;
            in_scope[x - 1]
        } else {
            y += 1;
            unrecorded[y - 1]
        };
        by_address.push(action_at[p]);
    }
    // Counting sort by wave, stable.
    let waves = actions.iter().map(|a| a.wave).max().unwrap_or(0);
    let mut start = vec![0usize; waves + 2];
    for a in &actions {
        start[a.wave + 1] += 1;
    }
    for w in 1..start.len() {
        start[w] += start[w - 1];
    }
    let mut order = vec![NONE; actions.len()];
    for k in by_address {
        let w = actions[k].wave;
        order[start[w]] = k;
        start[w] += 1;
    }
    let mut slots: Vec<Option<Action>> = actions.into_iter().map(Some).collect();
    let sorted: Vec<Action> = order
        .into_iter()
        .map(|k| slots[k].take().expect("each action is placed once"))
        .collect();
    debug_assert!(
        sorted
            .windows(2)
            .all(|w| (w[0].wave, &w[0].address) < (w[1].wave, &w[1].address)),
        "actions are not in wave and address order"
    );
    sorted
}

/// What a recorded resource's changes call for: nothing, an update in place, or a replacement.
fn action_of(changes: &[FieldChange]) -> ActionKind {
    if changes.is_empty() {
        ActionKind::NoOp
    } else if changes.iter().any(|c| c.forces_replacement) {
        ActionKind::Replace
    } else {
        ActionKind::Update
    }
}

/// Deletes and replacements of stateful resources that `--allow-destroy` does not name.
fn protected(actions: &[Action], options: &PlanOptions) -> Vec<Protected> {
    actions
        .iter()
        .filter(|a| a.stateful && matches!(a.action, ActionKind::Delete | ActionKind::Replace))
        .filter(|a| !options.allow_destroy.iter().any(|x| x == &a.address))
        .map(|a| Protected {
            address: a.address.clone(),
            kind: a.kind.to_string(),
            action: a.action,
            reason: match a.action {
                ActionKind::Delete if options.destroying => "destroy deletes it".into(),
                ActionKind::Delete => "it was removed from the stack".into(),
                _ => format!(
                    "changing {} forces replacement",
                    a.replace_reasons()
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        })
        .collect()
}

/// A plan that brings the resources of `current` back to their configuration in `target` (the
/// state a past deployment left): the resources both hold whose configuration differs are
/// updated or replaced; resources created since are kept, and resources deleted since are not
/// recreated (`panka apply` does that from the YAML).
///
/// # Errors
/// [`PlanError::ProtectedDestroy`] for a stateful replacement not allowed, and a graph error when
/// the recorded dependencies form a cycle.
pub fn rollback_plan(
    stack: &Stack,
    current: &State,
    target: &State,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let resources: Vec<Resource> = current
        .resources
        .iter()
        .filter_map(|(address, r)| {
            Some(Resource {
                address: address.clone(),
                kind: ResourceKind::parse(&r.kind)?,
                depends_on: r
                    .dependencies
                    .iter()
                    .filter(|d| current.resources.contains_key(d.as_str()))
                    .cloned()
                    .collect(),
            })
        })
        .collect();
    let graph = ResourceGraph::new(resources.clone())?;
    let mut actions = Vec::new();
    for r in &resources {
        let (Some(now), Some(then)) = (
            current.resources.get(&r.address),
            target.resources.get(&r.address),
        ) else {
            continue;
        };
        let then_config = then.config.value();
        let changes = diff(&now.config.value(), &then_config, r.kind);
        let action = action_of(&changes);
        let wave = graph.wave_of(&r.address).unwrap_or(0) + 1;
        let planned = monthly_cost(r.kind, &then_config, &stack.region).amount();
        actions.push(action_for(
            r,
            (action != ActionKind::NoOp).then_some(then_config),
            action,
            wave,
            changes,
            planned,
            &stack.region,
        ));
    }
    // What refers to a resource the rollback replaces is updated after it, with its own
    // configuration of then.
    refresh_dependents(
        stack,
        |a| {
            target
                .resources
                .get(a)
                .map(|r| r.config.value())
                .unwrap_or(Value::Null)
        },
        &resources,
        &mut actions,
    );
    actions.sort_by(|a, b| (a.wave, &a.address).cmp(&(b.wave, &b.address)));
    let protected = protected(&actions, options);
    if !protected.is_empty() {
        return Err(PlanError::ProtectedDestroy(protected));
    }
    let summary = Summary::of(&actions);
    let cost = estimate(&actions, &CostNotes::default(), &stack.region);
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        stack: stack.name.clone(),
        environment: stack.environment.clone(),
        region: stack.region.clone(),
        state_lineage: Some(current.lineage.clone()),
        state_serial: Some(current.serial),
        targeting: Targeting::default(),
        actions,
        summary,
        cost,
    })
}

/// What an automatic rollback leaves as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptBack {
    pub address: String,
    pub reason: String,
}

/// The plan of an automatic rollback after a failed apply: the resources of `changed` (what
/// the failed apply touched) go back to their configuration in `target` (the state the last
/// successful deployment left); those it created that `target` does not hold are deleted. A
/// stateful resource is never deleted or replaced by it: such a step is left out and listed
/// with its reason, for a person to decide.
///
/// # Errors
/// A graph error when the recorded dependencies form a cycle.
pub fn auto_rollback_plan(
    stack: &Stack,
    current: &State,
    target: &State,
    changed: &HashSet<String>,
) -> Result<(Plan, Vec<KeptBack>), PlanError> {
    // Every step is computed, then the stateful deletes and replaces are taken out.
    let everything = PlanOptions {
        allow_destroy: current.resources.keys().cloned().collect(),
        ..PlanOptions::default()
    };
    let mut plan = rollback_plan(stack, current, target, &everything)?;
    plan.actions.retain(|a| changed.contains(&a.address));
    let base_wave = plan.actions.iter().map(|a| a.wave).max().unwrap_or(0);
    let created: Vec<(&String, &std::sync::Arc<panka_state::ResourceState>)> = current
        .resources
        .iter()
        .filter(|(a, _)| changed.contains(*a) && !target.resources.contains_key(*a))
        .collect();
    let levels = delete_levels(
        &created
            .iter()
            .map(|(a, r)| (*a, r.as_ref()))
            .collect::<Vec<_>>(),
    );
    for (address, r) in &created {
        let kind = ResourceKind::parse(&r.kind).unwrap_or(ResourceKind::SharedCluster);
        plan.actions.push(Action {
            address: (*address).clone(),
            kind,
            action: ActionKind::Delete,
            wave: base_wave + 1 + levels[address.as_str()],
            depends_on: r.dependencies.clone(),
            changes: Vec::new(),
            stateful: kind.stateful(),
            config: None,
            monthly_cost: CostChange {
                current: monthly_cost(kind, &r.config.value(), &stack.region).amount(),
                planned: 0.0,
            },
        });
    }
    let mut kept = Vec::new();
    plan.actions.retain(|a| {
        let destructive = matches!(a.action, ActionKind::Delete | ActionKind::Replace);
        if a.stateful && destructive {
            kept.push(KeptBack {
                address: a.address.clone(),
                reason: format!(
                    "a rollback never {} a {} (it holds data)",
                    if a.action == ActionKind::Delete {
                        "deletes"
                    } else {
                        "replaces"
                    },
                    a.kind
                ),
            });
            return false;
        }
        true
    });
    plan.actions
        .sort_by(|a, b| (a.wave, &a.address).cmp(&(b.wave, &b.address)));
    plan.summary = Summary::of(&plan.actions);
    plan.cost = estimate(&plan.actions, &CostNotes::default(), &stack.region);
    Ok((plan, kept))
}

/// A resource whose configuration is unchanged but which takes values from a resource that is
/// replaced or created again (new endpoint, new security group, new ARN), or from the shared
/// load balancer when its listeners change, is updated too, after it, so that it picks the new
/// values up. The values it refers to are the component's
/// references and, for the kinds that run on them, the stack's shared resources.
fn refresh_dependents(
    stack: &Stack,
    config_of: impl Fn(&str) -> Value,
    resources: &[Resource],
    actions: &mut [Action],
) {
    let renewed: HashMap<String, &'static str> = actions
        .iter()
        .filter_map(|a| match a.action {
            ActionKind::Replace => Some((a.address.clone(), "replaced")),
            ActionKind::Create => Some((a.address.clone(), "created")),
            // Listener rules live on the shared load balancer's forwarding listeners: when
            // they change (a domain's HTTPS listener, HTTP turned into a redirect), every
            // MicroService moves its rules onto the listeners that now forward.
            ActionKind::Update
                if a.address == panka_graph::SHARED_LOAD_BALANCER
                    && a.changes.iter().any(|c| c.path.starts_with("listeners")) =>
            {
                Some((a.address.clone(), "given other listeners"))
            }
            _ => None,
        })
        .collect();
    if renewed.is_empty() {
        return;
    }
    let references: HashMap<String, Vec<String>> = stack
        .components
        .values()
        .map(|c| {
            (
                c.address.to_string(),
                c.references.iter().map(|r| r.target.to_string()).collect(),
            )
        })
        .collect();
    let by_address: HashMap<&str, &Resource> =
        resources.iter().map(|r| (r.address.as_str(), r)).collect();
    for a in actions.iter_mut().filter(|a| a.action == ActionKind::NoOp) {
        let Some(d) = by_address.get(a.address.as_str()) else {
            continue;
        };
        let mut uses: Vec<&String> = references
            .get(&a.address)
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        uses.extend(d.depends_on.iter().filter(|x| x.starts_with("_shared/")));
        uses.sort();
        uses.dedup();
        let changes: Vec<FieldChange> = uses
            .iter()
            .filter_map(|u| {
                renewed
                    .get(u.as_str())
                    .map(|what| FieldChange::upstream(u, what))
            })
            .collect();
        if !changes.is_empty() {
            a.action = ActionKind::Update;
            a.changes = changes;
            a.config = Some(config_of(&a.address));
        }
    }
}

/// The action on desired resource `r`, whose configuration is `config` (`None` when unchanged).
fn action_for(
    r: &Resource,
    config: Option<Value>,
    action: ActionKind,
    wave: usize,
    changes: Vec<FieldChange>,
    planned: f64,
    region: &str,
) -> Action {
    // Cost is a function of configuration: only a changed resource can cost something else.
    let current = match (action, &config) {
        (ActionKind::Create, _) => 0.0,
        (ActionKind::NoOp, _) | (_, None) => planned,
        (_, Some(config)) => changes_current_cost(r.kind, config, &changes, region),
    };
    Action {
        address: r.address.clone(),
        kind: r.kind,
        action,
        wave,
        depends_on: r.depends_on.clone(),
        changes,
        stateful: r.kind.stateful(),
        // A no-op needs nothing applied; leaving its configuration out keeps large plans small.
        config: config.filter(|_| action != ActionKind::NoOp),
        monthly_cost: CostChange { current, planned },
    }
}

/// The current cost of a changed resource: its desired configuration with the changed fields
/// set back to their recorded values.
fn changes_current_cost(
    kind: ResourceKind,
    config: &Value,
    changes: &[FieldChange],
    region: &str,
) -> f64 {
    let mut before = config.clone();
    for c in changes {
        set_path(&mut before, &c.path, c.old.clone());
    }
    monthly_cost(kind, &before, region).amount()
}

/// Sets the value at a dotted path (`spec.instance.class`, `spec.environment[NAME].value`).
fn set_path(root: &mut Value, path: &str, value: Option<Value>) {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let (key, selector) = match part.find('[') {
            Some(b) => (&part[..b], Some(part[b + 1..].trim_end_matches(']'))),
            None => (*part, None),
        };
        let last = i + 1 == parts.len() && selector.is_none();
        if last {
            if let Value::Object(m) = cur {
                match value {
                    Some(v) => {
                        m.insert(key.to_string(), v);
                    }
                    None => {
                        m.remove(key);
                    }
                }
            }
            return;
        }
        let Some(next) = cur.get_mut(key) else { return };
        cur = next;
        if let Some(sel) = selector {
            let Value::Array(items) = cur else { return };
            let found = match sel.parse::<usize>() {
                Ok(i) => items.get_mut(i),
                Err(_) => items
                    .iter_mut()
                    .find(|v| v.get("name").and_then(Value::as_str) == Some(sel)),
            };
            let Some(item) = found else { return };
            cur = item;
            if i + 1 == parts.len() {
                if let Some(v) = value {
                    *cur = v;
                }
                return;
            }
        }
    }
}

/// The addresses a targeted plan covers: targets and their dependencies, less exclusions.
/// The addresses a plan covers; `None` when it covers everything (no targeting).
fn scope<'g>(
    stack: &Stack,
    graph: &'g ResourceGraph,
    t: &Targeting,
) -> Result<Option<BTreeSet<&'g str>>, PlanError> {
    if t.services.is_empty() && t.components.is_empty() && t.exclude.is_empty() {
        return Ok(None);
    }
    let all: Vec<&str> = graph
        .resources()
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    for s in &t.services {
        if !stack.services.contains_key(s) {
            let suggestion =
                did_you_mean(s, stack.services.keys().map(String::as_str)).map(str::to_string);
            return Err(PlanError::UnknownTarget {
                what: "service",
                name: s.clone(),
                suggestion,
            });
        }
    }
    for c in t.components.iter().chain(&t.exclude) {
        if !all.contains(&c.as_str()) {
            let suggestion = did_you_mean(c, all.iter().copied()).map(str::to_string);
            return Err(PlanError::UnknownTarget {
                what: "component",
                name: c.clone(),
                suggestion,
            });
        }
    }
    let mut selected: BTreeSet<&str> = if t.services.is_empty() && t.components.is_empty() {
        all.iter().copied().collect()
    } else {
        let roots = all.iter().copied().filter(|a| {
            t.components.iter().any(|c| c == a)
                || t.services
                    .iter()
                    .any(|s| a.split('/').next() == Some(s.as_str()))
        });
        graph.with_dependencies(roots)
    };
    for e in &t.exclude {
        selected.remove(e.as_str());
    }
    Ok(Some(selected))
}

/// Whether a resource that left the YAML is deleted by a targeted plan: only when its service or
/// address is targeted (or nothing is).
fn deletion_in_scope(address: &str, t: &Targeting) -> bool {
    if t.exclude.iter().any(|e| e == address) {
        return false;
    }
    if t.services.is_empty() && t.components.is_empty() {
        return true;
    }
    t.components.iter().any(|c| c == address)
        || t.services
            .iter()
            .any(|s| address.split('/').next() == Some(s.as_str()))
}

/// For each doomed resource: how many doomed resources must be deleted before it (its level).
fn delete_levels<'a>(
    doomed: &[(&'a String, &panka_state::ResourceState)],
) -> BTreeMap<&'a str, usize> {
    let names: BTreeSet<&str> = doomed.iter().map(|(a, _)| a.as_str()).collect();
    // dependents[x] = doomed resources that depend on x.
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, r) in doomed {
        for d in &r.dependencies {
            if names.contains(d.as_str()) {
                dependents.entry(d.as_str()).or_default().push(a.as_str());
            }
        }
    }
    let mut level: BTreeMap<&'a str, usize> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        dependents: &BTreeMap<&str, Vec<&'a str>>,
        level: &mut BTreeMap<&'a str, usize>,
        guard: usize,
    ) -> usize {
        if let Some(l) = level.get(n) {
            return *l;
        }
        // State written by panka is acyclic; the guard keeps a hand-edited cyclic state finite.
        let l = if guard == 0 {
            0
        } else {
            dependents
                .get(n)
                .map(|ds| {
                    ds.iter()
                        .map(|d| visit(d, dependents, level, guard - 1) + 1)
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0)
        };
        level.insert(n, l);
        l
    }
    for (a, _) in doomed {
        visit(a.as_str(), &dependents, &mut level, doomed.len());
    }
    level
}

/// What the estimate says beside its amounts.
#[derive(Default)]
struct CostNotes {
    /// Kinds priced by use, counted as zero.
    usage_based: BTreeSet<&'static str>,
    /// Resources whose instance class or node type the table lacks, with that class.
    unpriced: HashMap<String, String>,
}

fn estimate(actions: &[Action], notes: &CostNotes, region: &str) -> CostEstimate {
    let mut by_kind: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut unpriced = Vec::new();
    for a in actions {
        let e = by_kind.entry(a.kind.name()).or_default();
        e.0 += a.monthly_cost.current;
        e.1 += a.monthly_cost.planned;
        if !notes.unpriced.is_empty()
            && let Some(class) = notes.unpriced.get(&a.address)
        {
            unpriced.push(format!("{} ({class})", a.address));
        }
    }
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let current = round(by_kind.values().map(|v| v.0).sum());
    let planned = round(by_kind.values().map(|v| v.1).sum());
    CostEstimate {
        currency: "USD".into(),
        prices_as_of: PRICES_AS_OF.into(),
        price_region: if PRICED_REGIONS.contains(&region) {
            region.to_string()
        } else {
            "us-east-1".into()
        },
        current,
        planned,
        delta: round(planned - current),
        by_kind: by_kind
            .into_iter()
            .filter(|(_, (c, p))| *c != 0.0 || *p != 0.0)
            .map(|(kind, (c, p))| KindCost {
                kind: kind.to_string(),
                current: round(c),
                planned: round(p),
            })
            .collect(),
        usage_based: notes.usage_based.iter().map(|k| k.to_string()).collect(),
        unpriced,
    }
}

/// Records in `state` what a fully successful apply of `plan` would: each created, updated or
/// replaced resource with its planned configuration, each deleted one removed, serial bumped.
/// Physical ids and outputs are left to the engine; this is the in-memory model used to check
/// that planning converges.
pub fn record_in_memory(plan: &Plan, state: &mut State) {
    for a in &plan.actions {
        match a.action {
            ActionKind::NoOp => {}
            ActionKind::Delete => {
                state.resources.remove(&a.address);
            }
            ActionKind::Create | ActionKind::Update | ActionKind::Replace => {
                let config = a.config.clone().unwrap_or(Value::Null);
                let entry = state.resources.entry(a.address.clone()).or_insert_with(|| {
                    std::sync::Arc::new(panka_state::ResourceState {
                        kind: a.kind.to_string(),
                        physical_ids: BTreeMap::new(),
                        config: RecordedConfig::default(),
                        config_hash: String::new(),
                        outputs: BTreeMap::new(),
                        dependencies: Vec::new(),
                        status: panka_state::ResourceStatus::Ready,
                        created_at: String::new(),
                        updated_at: String::new(),
                        adopted: false,
                    })
                });
                let entry = std::sync::Arc::make_mut(entry);
                entry.kind = a.kind.to_string();
                entry.config_hash = panka_state::config_hash(&config);
                entry.config = RecordedConfig::new(&config);
                entry.dependencies = a.depends_on.clone();
                entry.status = panka_state::ResourceStatus::Ready;
            }
        }
    }
    state.serial += 1;
}
