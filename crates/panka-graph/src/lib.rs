//! The dependency graph of a stack's resources.
//!
//! Resources are the stack's components plus the shared resources their kinds imply: every
//! ECS-based component (MicroService, Worker, CronJob) needs the stack's ECS cluster, a
//! MicroService with a public port the stack's shared Application Load Balancer, and, once the
//! stack uses service discovery (a port with `public: false`, or a reference to an
//! `internalHost`/`internalUrl` output), every MicroService with a port the stack's private DNS
//! namespace (Cloud Map). Edges come from `dependsOn`, from
//! `valueFrom` and other references, from services' `dependsOn`, and from those implied needs.
//!
//! Waves are dependency levels: a resource's wave is one more than the highest wave of what it
//! depends on. They are for people reading a plan; the engine starts each action as soon as its
//! own dependencies are done.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write};
use std::hash::BuildHasher;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use panka_format::kinds::{ComponentSpec, Kind};
use panka_format::{Address, Stack};

/// The service part of shared resources' addresses. Service names start with a letter, so it
/// cannot clash with one.
pub const SHARED_SERVICE: &str = "_shared";
/// Address of the stack's ECS cluster.
pub const SHARED_CLUSTER: &str = "_shared/cluster";
/// Address of the stack's shared Application Load Balancer.
pub const SHARED_LOAD_BALANCER: &str = "_shared/load-balancer";
/// Address of the stack's private DNS namespace (Cloud Map), where services with ports register.
pub const SHARED_NAMESPACE: &str = "_shared/namespace";

/// What a resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Component(Kind),
    SharedCluster,
    SharedLoadBalancer,
    SharedNamespace,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Component(k) => k.name(),
            ResourceKind::SharedCluster => "SharedCluster",
            ResourceKind::SharedLoadBalancer => "SharedLoadBalancer",
            ResourceKind::SharedNamespace => "SharedNamespace",
        }
    }

    pub fn parse(name: &str) -> Option<ResourceKind> {
        match name {
            "SharedCluster" => Some(ResourceKind::SharedCluster),
            "SharedLoadBalancer" => Some(ResourceKind::SharedLoadBalancer),
            "SharedNamespace" => Some(ResourceKind::SharedNamespace),
            other => Kind::parse(other).map(ResourceKind::Component),
        }
    }

    /// Holds data: never deleted or replaced without an explicit flag.
    pub fn stateful(self) -> bool {
        match self {
            ResourceKind::Component(k) => k.info().stateful,
            _ => false,
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ResourceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ResourceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ResourceKind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource kind {name}")))
    }
}

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub address: String,
    pub kind: ResourceKind,
    /// Addresses of the resources it needs first.
    pub depends_on: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("dependency cycle: {}", .path.join(" → "))]
    Cycle { path: Vec<String> },
    #[error("`{from}` depends on `{to}`, which is not a resource of this stack")]
    UnknownDependency { from: String, to: String },
}

/// The graph: resources, edges from a resource to what it depends on, and levels.
#[derive(Debug, Clone)]
pub struct ResourceGraph {
    resources: Vec<Resource>,
    graph: DiGraph<usize, ()>,
    /// Resource indices, found by address (hashed with `hasher`): the addresses are not copied.
    index: hashbrown::HashTable<usize>,
    hasher: std::hash::RandomState,
    /// Wave (0-based) of each resource, by resource index.
    level: Vec<usize>,
}

/// The resources of a resolved stack, shared ones first, then components in stack order.
pub fn stack_resources(stack: &Stack) -> Vec<Resource> {
    let mut needs_cluster = false;
    let mut needs_lb = false;
    let mut needs_namespace = false;
    let mut resources = Vec::with_capacity(stack.components.len() + 3);
    // Service discovery is the stack's once a component needs it: a MicroService port no load
    // balancer serves, or a reference to another service's internal address. Then every
    // MicroService with ports registers in the namespace.
    let discovery = stack.components.values().any(|c| {
        matches!(&c.spec, ComponentSpec::MicroService(s) if s.ports.iter().any(|p| !p.public))
            || c.references.iter().any(|r| {
                r.output
                    .as_deref()
                    .is_some_and(|o| o == "internalHost" || o.starts_with("internalUrl"))
            })
    });
    for c in stack.components.values() {
        let mut deps: Vec<String> = c.depends_on.iter().map(Address::to_text).collect();
        if matches!(c.kind, Kind::MicroService | Kind::Worker | Kind::CronJob) {
            needs_cluster = true;
            deps.push(SHARED_CLUSTER.into());
        }
        if let ComponentSpec::MicroService(s) = &c.spec {
            // Only public ports are routed through the load balancer; with service discovery
            // every port is registered in the namespace.
            if s.ports.iter().any(|p| p.public) {
                needs_lb = true;
                deps.push(SHARED_LOAD_BALANCER.into());
            }
            if discovery && !s.ports.is_empty() {
                needs_namespace = true;
                deps.push(SHARED_NAMESPACE.into());
            }
        }
        deps.sort();
        deps.dedup();
        resources.push(Resource {
            address: c.address.to_text(),
            kind: ResourceKind::Component(c.kind),
            depends_on: deps,
        });
    }
    let mut shared = Vec::new();
    if needs_cluster {
        shared.push(Resource {
            address: SHARED_CLUSTER.into(),
            kind: ResourceKind::SharedCluster,
            depends_on: vec![],
        });
    }
    if needs_lb {
        shared.push(Resource {
            address: SHARED_LOAD_BALANCER.into(),
            kind: ResourceKind::SharedLoadBalancer,
            depends_on: vec![],
        });
    }
    if needs_namespace {
        shared.push(Resource {
            address: SHARED_NAMESPACE.into(),
            kind: ResourceKind::SharedNamespace,
            depends_on: vec![],
        });
    }
    shared.extend(resources);
    shared
}

impl ResourceGraph {
    /// The graph of a resolved stack.
    ///
    /// # Errors
    /// [`GraphError::Cycle`] (validation reports cycles first, with locations; this guards
    /// stacks built in code).
    pub fn from_stack(stack: &Stack) -> Result<Self, GraphError> {
        Self::new(stack_resources(stack))
    }

    /// A graph of arbitrary resources.
    ///
    /// # Errors
    /// A dependency on an address that is not among `resources`, or a cycle (with its path).
    pub fn new(resources: Vec<Resource>) -> Result<Self, GraphError> {
        let mut graph = DiGraph::with_capacity(resources.len(), resources.len() * 2);
        let hasher = std::hash::RandomState::new();
        let mut index = hashbrown::HashTable::with_capacity(resources.len());
        for (i, r) in resources.iter().enumerate() {
            graph.add_node(i);
            let hash = hasher.hash_one(r.address.as_str());
            index.insert_unique(hash, i, |&j: &usize| {
                hasher.hash_one(resources[j].address.as_str())
            });
        }
        let find = |address: &str| {
            index
                .find(hasher.hash_one(address), |&j| {
                    resources[j].address == address
                })
                .copied()
        };
        for (i, r) in resources.iter().enumerate() {
            for d in &r.depends_on {
                let to = find(d).ok_or_else(|| GraphError::UnknownDependency {
                    from: r.address.clone(),
                    to: d.clone(),
                })?;
                graph.update_edge(NodeIndex::new(i), NodeIndex::new(to), ());
            }
        }
        let order = petgraph::algo::toposort(&graph, None).map_err(|cycle| GraphError::Cycle {
            path: cycle_path(&graph, &resources, cycle.node_id()),
        })?;
        // toposort puts a node before the nodes it points to (its dependencies): walk backwards.
        let mut level = vec![0usize; resources.len()];
        for node in order.iter().rev() {
            let l = graph
                .neighbors_directed(*node, Direction::Outgoing)
                .map(|d| level[graph[d]] + 1)
                .max()
                .unwrap_or(0);
            level[graph[*node]] = l;
        }
        Ok(ResourceGraph {
            resources,
            graph,
            index,
            hasher,
            level,
        })
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The index in [`ResourceGraph::resources`] of the resource at `address`.
    pub fn position(&self, address: &str) -> Option<usize> {
        self.index
            .find(self.hasher.hash_one(address), |&i| {
                self.resources[i].address == address
            })
            .copied()
    }

    pub fn get(&self, address: &str) -> Option<&Resource> {
        self.position(address).map(|i| &self.resources[i])
    }

    /// The wave (0-based) of the resource at `index` in [`ResourceGraph::resources`].
    pub fn wave_at(&self, index: usize) -> usize {
        self.level[index]
    }

    /// The wave (0-based) of a resource.
    pub fn wave_of(&self, address: &str) -> Option<usize> {
        self.position(address).map(|i| self.level[i])
    }

    /// Resource addresses by wave, each wave sorted by address.
    pub fn waves(&self) -> Vec<Vec<&str>> {
        let count = self.level.iter().max().map_or(0, |m| m + 1);
        let mut waves: Vec<Vec<&str>> = vec![Vec::new(); count];
        for (i, r) in self.resources.iter().enumerate() {
            waves[self.level[i]].push(&r.address);
        }
        for w in &mut waves {
            w.sort_unstable();
        }
        waves
    }

    /// Addresses of the resources that depend on `address` directly.
    pub fn dependents(&self, address: &str) -> Vec<&str> {
        match self.position(address).map(NodeIndex::new) {
            Some(n) => self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .map(|d| self.resources[self.graph[d]].address.as_str())
                .collect(),
            None => Vec::new(),
        }
    }

    /// `targets` and everything they depend on, transitively (Terraform's `-target` semantics).
    pub fn with_dependencies<'a>(
        &'a self,
        targets: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = targets
            .into_iter()
            .filter_map(|t| self.position(t).map(NodeIndex::new))
            .collect();
        while let Some(n) = stack.pop() {
            let address = self.resources[self.graph[n]].address.as_str();
            if seen.insert(address) {
                stack.extend(self.graph.neighbors_directed(n, Direction::Outgoing));
            }
        }
        seen
    }

    /// Graphviz dot: one cluster per wave, edges from a resource to what it needs.
    pub fn to_dot(&self) -> String {
        let mut s = String::from(
            "digraph panka {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
        );
        for (w, addresses) in self.waves().iter().enumerate() {
            let _ = writeln!(
                s,
                "  subgraph cluster_wave_{w} {{\n    label=\"wave {}\";\n    style=dashed;",
                w + 1
            );
            for a in addresses {
                let r = self.get(a).expect("wave member exists");
                let _ = writeln!(s, "    \"{a}\" [label=\"{a}\\n{}\"];", r.kind);
            }
            s.push_str("  }\n");
        }
        for r in self.sorted() {
            for d in &r.depends_on {
                let _ = writeln!(s, "  \"{}\" -> \"{d}\";", r.address);
            }
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid flowchart: one subgraph per wave.
    pub fn to_mermaid(&self) -> String {
        let id = |a: &str| a.replace(['/', '-'], "_");
        let mut s = String::from("flowchart LR\n");
        for (w, addresses) in self.waves().iter().enumerate() {
            let _ = writeln!(s, "  subgraph wave{}[\"wave {}\"]", w + 1, w + 1);
            for a in addresses {
                let r = self.get(a).expect("wave member exists");
                let _ = writeln!(s, "    {}[\"{a}<br/>{}\"]", id(a), r.kind);
            }
            s.push_str("  end\n");
        }
        for r in self.sorted() {
            for d in &r.depends_on {
                let _ = writeln!(s, "  {} --> {}", id(&r.address), id(d));
            }
        }
        s
    }

    fn sorted(&self) -> Vec<&Resource> {
        let mut v: Vec<&Resource> = self.resources.iter().collect();
        v.sort_by(|a, b| a.address.cmp(&b.address));
        v
    }
}

/// A cycle through `start`, as addresses, closed (first = last).
fn cycle_path(graph: &DiGraph<usize, ()>, resources: &[Resource], start: NodeIndex) -> Vec<String> {
    // Breadth-first from start's dependencies back to start gives the shortest cycle through it.
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::new();
    for n in graph.neighbors_directed(start, Direction::Outgoing) {
        parent.entry(n).or_insert(start);
        queue.push_back(n);
    }
    while let Some(n) = queue.pop_front() {
        if n == start {
            break;
        }
        for m in graph.neighbors_directed(n, Direction::Outgoing) {
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    let mut path = vec![resources[graph[start]].address.clone()];
    let mut n = start;
    while let Some(&p) = parent.get(&n) {
        if p == start {
            break;
        }
        path.push(resources[graph[p]].address.clone());
        n = p;
        if path.len() > resources.len() {
            break;
        }
    }
    path.push(resources[graph[start]].address.clone());
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(address: &str, deps: &[&str]) -> Resource {
        Resource {
            address: address.into(),
            kind: ResourceKind::Component(Kind::SQS),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn waves_are_dependency_levels() {
        let g = ResourceGraph::new(vec![
            r("a/api", &["a/db", "a/q"]),
            r("a/db", &[]),
            r("a/q", &[]),
            r("b/x", &["a/api"]),
        ])
        .unwrap();
        assert_eq!(
            g.waves(),
            vec![vec!["a/db", "a/q"], vec!["a/api"], vec!["b/x"]]
        );
        assert_eq!(
            g.with_dependencies(["a/api"])
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["a/api", "a/db", "a/q"]
        );
        assert_eq!(g.dependents("a/db"), vec!["a/api"]);
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let err = ResourceGraph::new(vec![
            r("a/x", &["a/y"]),
            r("a/y", &["a/z"]),
            r("a/z", &["a/x"]),
        ])
        .unwrap_err();
        let GraphError::Cycle { path } = err else {
            panic!()
        };
        assert_eq!(path.first(), path.last());
        assert_eq!(path.len(), 4, "{path:?}");
    }

    #[test]
    fn unknown_dependency_is_an_error() {
        assert!(matches!(
            ResourceGraph::new(vec![r("a/x", &["a/nope"])]),
            Err(GraphError::UnknownDependency { .. })
        ));
    }

    fn dag() -> impl Strategy<Value = Vec<Resource>> {
        (1usize..60).prop_flat_map(|n| {
            prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), n)
                .prop_map(move |deps| {
                    deps.iter()
                        .enumerate()
                        .map(|(i, ds)| {
                            // Only edges to lower indices: a DAG by construction.
                            let mut d: Vec<String> = if i == 0 {
                                vec![]
                            } else {
                                ds.iter().map(|x| format!("s/n{}", x.index(i))).collect()
                            };
                            d.sort();
                            d.dedup();
                            Resource {
                                address: format!("s/n{i}"),
                                kind: ResourceKind::Component(Kind::S3),
                                depends_on: d,
                            }
                        })
                        .collect()
                })
        })
    }

    proptest! {
        #[test]
        fn every_edge_points_to_an_earlier_wave(resources in dag()) {
            let g = ResourceGraph::new(resources.clone()).unwrap();
            for r in &resources {
                for d in &r.depends_on {
                    prop_assert!(g.wave_of(d).unwrap() < g.wave_of(&r.address).unwrap());
                }
            }
            let total: usize = g.waves().iter().map(Vec::len).sum();
            prop_assert_eq!(total, resources.len());
        }
    }
}
