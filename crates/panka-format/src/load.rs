//! Loading a stack for one environment: discovery, parsing, overlays, variables, schema checks
//! and typed conversion, then the semantic rules of [`crate::rules`].
//!
//! Loading never stops at the first problem: every file is read, every document checked, and
//! all diagnostics are returned together. A [`Stack`] is returned only when there are no errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::interpolate::{Scope, interpolate};
use crate::kinds::{ComponentSpec, Kind};
use crate::merge::merge;
use crate::model::*;
use crate::rules;
use crate::schema::{DocKind, SchemaIssue, check, stack_schema};
use crate::source::{FileId, Sources, Span};
use crate::yaml::{Node, PathSeg, Value, display_path, parse_file};

/// What to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--stack`: a folder holding stack.yaml, the path of a stack.yaml, or a name looked up
    /// under `./stacks/`.
    pub stack: String,
    /// `--environment`.
    pub environment: String,
    /// `--var NAME=VALUE`, in order (a later one wins).
    pub vars: Vec<(String, String)>,
    /// Folder relative paths are resolved against, and shown relative to.
    pub cwd: PathBuf,
}

/// The result of loading: the stack when valid, and every diagnostic either way.
#[derive(Debug)]
pub struct Loaded {
    pub sources: Sources,
    pub stack: Option<Stack>,
    pub diagnostics: Diagnostics,
}

/// Problems that prevent reading the stack at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no stack at `{given}`: looked for {}", tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    StackNotFound { given: String, tried: Vec<PathBuf> },
}

/// Loads, merges, resolves and validates a stack for one environment.
///
/// # Errors
/// [`LoadError`] when the stack's folder cannot be found; every other problem is a diagnostic
/// in [`Loaded::diagnostics`].
pub fn load(options: &LoadOptions) -> Result<Loaded, LoadError> {
    let root = find_stack_root(&options.stack, &options.cwd)?;
    let mut loader = Loader {
        sources: Sources::default(),
        diags: Vec::new(),
        broken: Vec::new(),
        cwd: options.cwd.clone(),
    };
    let stack = loader.load(&root, options);
    let mut diagnostics = Diagnostics {
        items: loader.diags,
    };
    diagnostics.sort(&loader.sources);
    let stack = if diagnostics.has_errors() {
        None
    } else {
        stack
    };
    Ok(Loaded {
        sources: loader.sources,
        stack,
        diagnostics,
    })
}

/// Finds the folder holding stack.yaml.
///
/// # Errors
/// [`LoadError::StackNotFound`] listing the places tried.
pub fn find_stack_root(given: &str, cwd: &Path) -> Result<PathBuf, LoadError> {
    let path = cwd.join(given);
    let mut tried = Vec::new();
    let candidates = [
        if path.is_file() {
            path.parent().map(Path::to_path_buf)
        } else {
            Some(path.clone())
        },
        (!given.contains('/')).then(|| cwd.join("stacks").join(given)),
    ];
    for dir in candidates.into_iter().flatten() {
        for file in ["stack.yaml", "stack.yml"] {
            let f = dir.join(file);
            if f.is_file() {
                return Ok(dir);
            }
            tried.push(f);
        }
    }
    Err(LoadError::StackNotFound {
        given: given.to_string(),
        tried,
    })
}

/// A document after parsing: its kind and its tree.
struct Doc {
    kind: DocKind,
    node: Node,
    file: FileId,
}

/// A service as loaded, with where it is listed and where its `dependsOn` entries are written.
pub(crate) struct ServiceEntry {
    pub service: Service,
    pub span: Span,
    pub depends_on_spans: Vec<Span>,
}

/// A component before typed conversion.
pub(crate) struct RawComponent {
    pub address: Address,
    pub kind: Kind,
    pub file: FileId,
    pub metadata: ComponentMetadata,
    /// Span of `metadata.name`, where "this component" diagnostics point.
    pub name_span: Span,
    /// The spec tree, merged and interpolated.
    pub spec: Node,
    /// Where `spec:` is written, for "missing field" diagnostics.
    pub spec_key_span: Option<Span>,
    /// The infra.yaml spec tree, when there is one (or an override adds one).
    pub infra: Option<Node>,
    pub infra_file: Option<FileId>,
    pub typed: Option<ComponentSpec>,
    pub typed_infra: Option<ComponentInfraSpec>,
}

struct Loader {
    sources: Sources,
    diags: Vec<Diagnostic>,
    /// Components whose files could not be parsed.
    broken: Vec<Address>,
    cwd: PathBuf,
}

impl Loader {
    fn display_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.cwd)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    }

    /// Reads and parses a file; diagnostics for unreadable or malformed files.
    fn read(&mut self, path: &Path) -> Option<(FileId, Vec<Node>)> {
        let shown = self.display_path(path);
        let text = match std::fs::read(path) {
            Ok(bytes) if bytes.len() > crate::yaml::MAX_FILE_BYTES => {
                let id = self.sources.add(shown, String::new());
                self.diags.push(Diagnostic::error(
                    "file-too-large",
                    Span {
                        file: id,
                        offset: 0,
                        len: 0,
                        line: 1,
                        column: 1,
                    },
                    format!(
                        "file is {} bytes; panka reads YAML files of at most {} bytes",
                        bytes.len(),
                        crate::yaml::MAX_FILE_BYTES
                    ),
                ));
                return None;
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let id = self.sources.add(shown, String::new());
                    self.diags.push(Diagnostic::error(
                        "not-utf8",
                        Span {
                            file: id,
                            offset: 0,
                            len: 0,
                            line: 1,
                            column: 1,
                        },
                        format!(
                            "file is not UTF-8 text (invalid byte at offset {})",
                            e.utf8_error().valid_up_to()
                        ),
                    ));
                    return None;
                }
            },
            Err(e) => {
                let id = self.sources.add(shown, String::new());
                self.diags.push(Diagnostic::error(
                    "unreadable-file",
                    Span {
                        file: id,
                        ..Span::SYNTHETIC
                    },
                    format!("cannot read {}: {e}", path.display()),
                ));
                return None;
            }
        };
        let id = self.sources.add(shown, text);
        match parse_file(&self.sources, id) {
            Ok(docs) => Some((id, docs)),
            Err(e) => {
                self.diags.push(
                    Diagnostic::error("yaml-syntax", e.span, e.message)
                        .with_label("YAML error here"),
                );
                None
            }
        }
    }

    /// Reads a file expected to hold documents of the given kinds.
    fn read_docs(&mut self, path: &Path, expected: &[DocKind]) -> Vec<Doc> {
        let Some((file, nodes)) = self.read(path) else {
            return Vec::new();
        };
        let mut docs = Vec::new();
        for node in nodes {
            if let Some(kind) = self.doc_kind(&node, file, expected) {
                docs.push(Doc { kind, node, file });
            }
        }
        docs
    }

    fn doc_kind(&mut self, node: &Node, file: FileId, expected: &[DocKind]) -> Option<DocKind> {
        if node.as_map().is_none() {
            self.diags.push(Diagnostic::error(
                "wrong-type",
                node.span,
                format!("a document must be a mapping with `apiVersion`, `kind`, `metadata` and `spec`, found {}", node.value.type_name()),
            ));
            return None;
        }
        let Some(kind_node) = node.get("kind") else {
            let span = if node.span.file == file {
                node.span
            } else {
                self.sources.span_at(file, 0, 0)
            };
            self.diags.push(
                Diagnostic::error("missing-field", span, "missing required field `kind`")
                    .with_help(format!(
                        "expected one of: {}",
                        expected
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            return None;
        };
        let name = kind_node.as_str().unwrap_or_default();
        match DocKind::parse(name) {
            Some(kind) if expected.contains(&kind) => Some(kind),
            Some(kind) => {
                self.diags.push(
                    Diagnostic::error(
                        "unexpected-kind",
                        kind_node.span,
                        format!("a `{}` document does not belong in this file", kind.name()),
                    )
                    .with_help(format!(
                        "this file takes: {}",
                        expected
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                None
            }
            None => {
                let names: Vec<&str> = expected.iter().map(|k| k.name()).collect();
                let mut d = Diagnostic::error(
                    "unknown-kind",
                    kind_node.span,
                    format!("unknown kind `{name}`"),
                );
                d = match did_you_mean(name, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("known kinds: {}", names.join(", "))),
                };
                self.diags.push(d);
                None
            }
        }
    }

    fn push_issues(&mut self, issues: Vec<SchemaIssue>) {
        for i in issues {
            let mut d = Diagnostic::error(i.code, i.span, i.message);
            if let Some(h) = i.help {
                d = d.with_help(h);
            }
            self.diags.push(d);
        }
    }

    /// Checks a whole document (envelope and spec) against its schema.
    fn check_document(&mut self, doc: &mut Doc) {
        let mut issues = Vec::new();
        let schema = stack_schema().document(doc.kind);
        check(&mut doc.node, schema, &mut Vec::new(), None, &mut issues);
        self.push_issues(issues);
    }

    /// Checks a component's envelope: everything but `spec`, which is checked after merging.
    fn check_envelope(&mut self, doc: &mut Doc) {
        let mut envelope = doc.node.clone();
        if let Value::Map(entries) = &mut envelope.value {
            for (k, v) in entries.iter_mut() {
                if k.name == "spec" {
                    *v = Node::new(Value::Map(Vec::new()), v.span);
                }
            }
        }
        let mut issues = Vec::new();
        let schema = stack_schema().document(doc.kind);
        let mut path = Vec::new();
        // Only the envelope's own fields: the placeholder spec may lack required fields.
        check(&mut envelope, schema, &mut path, None, &mut issues);
        issues.retain(|i| !matches!(i.path.first(), Some(PathSeg::Key(k)) if k == "spec"));
        self.push_issues(issues);
    }

    /// Converts a checked tree to a typed value; a failure is reported at the offending field.
    fn typed<T: DeserializeOwned>(&mut self, node: &Node, prefix: &[PathSeg]) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(node.to_json()) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = parse_serde_path(&e.path().to_string());
                let span = node.span_of(&path);
                let mut full = prefix.to_vec();
                full.extend(path);
                self.diags.push(Diagnostic::error(
                    "invalid-value",
                    span,
                    format!("`{}`: {}", display_path(&full), e.inner()),
                ));
                None
            }
        }
    }

    fn load(&mut self, root: &Path, options: &LoadOptions) -> Option<Stack> {
        // ---- stack.yaml
        let stack_file = ["stack.yaml", "stack.yml"]
            .iter()
            .map(|f| root.join(f))
            .find(|p| p.is_file())?;
        let mut stack_docs = self.read_docs(&stack_file, &[DocKind::Stack]);
        let stack_doc = stack_docs.drain(..).next();
        let Some(mut stack_doc) = stack_doc else {
            if !self.diags.iter().any(|d| d.is_error()) {
                let id = self
                    .sources
                    .add(self.display_path(&stack_file), String::new());
                self.diags.push(Diagnostic::error(
                    "missing-document",
                    self.sources.span_at(id, 0, 0),
                    "stack.yaml holds no Stack document",
                ));
            }
            return None;
        };

        // ---- environments/ENV.yaml
        let env_dir = root.join("environments");
        let env_file = ["yaml", "yml"]
            .iter()
            .map(|e| env_dir.join(format!("{}.{e}", options.environment)))
            .find(|p| p.is_file());
        let mut env_doc = match env_file {
            Some(f) => self
                .read_docs(&f, &[DocKind::Environment])
                .into_iter()
                .next(),
            None => {
                let available = list_yaml_stems(&env_dir);
                let mut d = Diagnostic::error(
                    "unknown-environment",
                    stack_doc
                        .node
                        .span_of(&[PathSeg::from("metadata"), PathSeg::from("name")]),
                    format!(
                        "environment `{}` has no file {}",
                        options.environment,
                        self.display_path(&env_dir.join(format!("{}.yaml", options.environment)))
                            .display()
                    ),
                );
                d = match did_you_mean(&options.environment, available.iter().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None if available.is_empty() => {
                        d.with_help("create environments/NAME.yaml with `kind: Environment`")
                    }
                    None => d.with_help(format!(
                        "environments of this stack: {}",
                        available.join(", ")
                    )),
                };
                self.diags.push(d);
                None
            }
        };

        // ---- variables and the stack's own checks
        let mut variables: IndexMap<String, String> = IndexMap::new();
        collect_variables(&stack_doc.node, &mut variables);
        if let Some(env) = &env_doc {
            collect_variables(&env.node, &mut variables);
        }
        for (k, v) in &options.vars {
            variables.insert(k.clone(), v.clone());
        }
        let stack_name = stack_doc
            .node
            .at(&[PathSeg::from("metadata"), PathSeg::from("name")])
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let region = env_doc
            .as_ref()
            .and_then(|e| {
                e.node
                    .at(&path(&["spec", "provider", "region"]))
                    .and_then(Node::as_str)
            })
            .or_else(|| {
                stack_doc
                    .node
                    .at(&path(&["spec", "provider", "region"]))
                    .and_then(Node::as_str)
            })
            .unwrap_or_default()
            .to_string();
        let environment = options.environment.clone();
        {
            let builtins = [
                ("stack", stack_name.as_str()),
                ("environment", environment.as_str()),
                ("region", region.as_str()),
            ];
            let scope = Scope {
                variables: &variables,
                builtins: &builtins,
            };
            if let Some(spec) = stack_doc.node.get_mut("spec") {
                interpolate_except(spec, "variables", &scope, &self.sources, &mut self.diags);
            }
        }
        self.check_document(&mut stack_doc);
        if let Some(env) = &mut env_doc {
            self.check_document(env);
            let env_name = env.node.at(&path(&["metadata", "name"]));
            if let Some(n) = env_name
                && n.as_str() != Some(options.environment.as_str())
            {
                self.diags.push(
                    Diagnostic::error(
                        "name-mismatch",
                        n.span,
                        format!(
                            "environment file `{}.yaml` names itself `{}`",
                            options.environment,
                            n.as_str().unwrap_or_default()
                        ),
                    )
                    .with_help(format!(
                        "`metadata.name` must be `{}`, the file's name",
                        options.environment
                    )),
                );
            }
        }
        let stack_meta: Option<Metadata> = stack_doc
            .node
            .get("metadata")
            .and_then(|n| self.typed(n, &path(&["metadata"])));
        let stack_spec: Option<StackSpec> = stack_doc
            .node
            .get("spec")
            .and_then(|n| self.typed(n, &path(&["spec"])));
        let env_spec: Option<EnvironmentSpec> = match &env_doc {
            Some(env) => match env.node.get("spec") {
                Some(n) => self.typed(n, &path(&["spec"])),
                None => Some(EnvironmentSpec::default()),
            },
            None => None,
        };

        // ---- services and their components
        let service_dirs = self.service_dirs(root, &stack_doc, stack_spec.as_ref());
        let mut services: IndexMap<String, ServiceEntry> = IndexMap::new();
        let mut components: Vec<RawComponent> = Vec::new();
        for (name, dir, ref_span) in service_dirs {
            if let Some(entry) = self.load_service(&name, &dir, ref_span, &mut components) {
                if let Some(ServiceEntry { span: first, .. }) = services.get(&name) {
                    let first = *first;
                    self.diags.push(
                        Diagnostic::error(
                            "duplicate-name",
                            ref_span,
                            format!("service `{name}` is listed twice"),
                        )
                        .with_related(first, "first listed here"),
                    );
                } else {
                    services.insert(name.clone(), entry);
                }
            }
        }

        // ---- environment overrides
        if let Some(env) = &env_doc {
            self.apply_overrides(env, &mut components, &services);
        }

        // ---- per component: variables, schema, typed conversion
        for c in components.iter_mut() {
            let builtins = [
                ("stack", stack_name.as_str()),
                ("environment", environment.as_str()),
                ("region", region.as_str()),
                ("service", c.address.service.as_str()),
                ("component", c.address.component.as_str()),
            ];
            let scope = Scope {
                variables: &variables,
                builtins: &builtins,
            };
            interpolate(&mut c.spec, &scope, &self.sources, &mut self.diags);
            if let Some(infra) = &mut c.infra {
                interpolate(infra, &scope, &self.sources, &mut self.diags);
            }
            let mut spec_issues = Vec::new();
            let schema = &stack_schema().document(DocKind::Component(c.kind))["properties"]["spec"];
            check(
                &mut c.spec,
                schema,
                &mut vec![PathSeg::from("spec")],
                c.spec_key_span,
                &mut spec_issues,
            );
            let spec_ok = spec_issues.is_empty();
            self.push_issues(spec_issues);
            if spec_ok {
                let spec_json = c.spec.to_json();
                match ComponentSpec::from_json(c.kind, spec_json) {
                    Ok(s) => c.typed = Some(s),
                    Err(e) => {
                        let p = parse_serde_path(&e.path().to_string());
                        let span = c.spec.span_of(&p);
                        let mut full = vec![PathSeg::from("spec")];
                        full.extend(p);
                        self.diags.push(Diagnostic::error(
                            "invalid-value",
                            span,
                            format!("`{}`: {}", display_path(&full), e.inner()),
                        ));
                    }
                }
            }
            if let Some(infra) = &mut c.infra {
                let mut issues = Vec::new();
                let schema =
                    &stack_schema().document(DocKind::ComponentInfra)["properties"]["spec"];
                check(
                    infra,
                    schema,
                    &mut vec![PathSeg::from("spec")],
                    None,
                    &mut issues,
                );
                let ok = issues.is_empty();
                self.push_issues(issues);
                if ok {
                    let infra = infra.clone();
                    c.typed_infra = self.typed(&infra, &path(&["spec"]));
                }
            }
        }

        // ---- semantic rules over the whole stack
        let env_node = env_doc.as_ref().map(|e| &e.node);
        let ctx = rules::StackContext {
            stack_node: &stack_doc.node,
            env_node,
            stack_spec: stack_spec.as_ref(),
            stack_meta: stack_meta.as_ref(),
            environment: &environment,
            services: &services,
            components: &components,
            broken: &self.broken,
        };
        let mut rule_diags = Vec::new();
        let resolved = rules::check_stack(&ctx, &mut rule_diags);
        self.diags.extend(rule_diags);
        // Listener-rule priorities are ordered across the whole stack's routes.
        crate::routes::order_routes(&mut components, &mut self.diags);

        let (stack_spec, stack_meta, env_spec) = (stack_spec?, stack_meta?, env_spec?);
        let resolved = resolved?;
        let account_id = env_spec
            .provider
            .as_ref()
            .and_then(|p| p.account_id.clone())
            .or(stack_spec.provider.account_id.clone());
        let mut by_address: BTreeMap<Address, (Vec<Reference>, Vec<Address>)> =
            resolved.into_iter().collect();
        let mut out_components = IndexMap::new();
        for c in components {
            let (references, depends_on) = by_address.remove(&c.address).unwrap_or_default();
            let Some(spec) = c.typed else { continue };
            let info = c.kind.info();
            let physical_name = crate::naming::physical_name(
                &stack_meta.name,
                &environment,
                &c.address,
                info.name_limit,
                info.name_lowercase,
            );
            let tags = crate::naming::tags(
                &stack_meta.name,
                &environment,
                &c.address,
                &stack_spec.defaults.tags,
            );
            let file = self.sources.path(c.file).to_path_buf();
            out_components.insert(
                c.address.clone(),
                Component {
                    address: c.address,
                    kind: c.kind,
                    spec,
                    infra: c.typed_infra,
                    labels: c.metadata.labels,
                    file,
                    depends_on,
                    references,
                    physical_name,
                    tags,
                },
            );
        }
        Some(Stack {
            name: stack_meta.name,
            environment,
            region,
            account_id,
            backend: stack_spec.backend,
            root: root.to_path_buf(),
            variables,
            shared: stack_spec.shared,
            deployment: stack_spec.deployment,
            default_tags: stack_spec.defaults.tags,
            outputs: stack_spec.outputs,
            services: services.into_iter().map(|(k, e)| (k, e.service)).collect(),
            components: out_components,
        })
    }

    /// The services to load: the stack's `services` list, or every folder under services/.
    fn service_dirs(
        &mut self,
        root: &Path,
        stack_doc: &Doc,
        spec: Option<&StackSpec>,
    ) -> Vec<(String, PathBuf, Span)> {
        let services_node = stack_doc.node.at(&path(&["spec", "services"]));
        match (spec.and_then(|s| s.services.as_ref()), services_node) {
            (Some(list), Some(node)) => list
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let span = node.span_of(&[PathSeg::Index(i), PathSeg::from("name")]);
                    let dir = match &r.path {
                        Some(p) => root.join(p),
                        None => root.join("services").join(&r.name),
                    };
                    if dir.is_dir() {
                        Some((r.name.clone(), dir, span))
                    } else {
                        self.diags.push(Diagnostic::error(
                            "missing-service",
                            span,
                            format!(
                                "service `{}` has no folder {}",
                                r.name,
                                self.display_path(&dir).display()
                            ),
                        ));
                        None
                    }
                })
                .collect(),
            _ => {
                let span = stack_doc.node.span_of(&path(&["metadata", "name"]));
                let mut dirs: Vec<(String, PathBuf, Span)> =
                    read_dir_sorted(&root.join("services"))
                        .into_iter()
                        .filter(|p| p.is_dir())
                        .map(|p| {
                            (
                                p.file_name()
                                    .unwrap_or_default()
                                    .to_string_lossy()
                                    .into_owned(),
                                p,
                                span,
                            )
                        })
                        .collect();
                dirs.sort_by(|a, b| a.0.cmp(&b.0));
                dirs
            }
        }
    }

    fn load_service(
        &mut self,
        name: &str,
        dir: &Path,
        ref_span: Span,
        components: &mut Vec<RawComponent>,
    ) -> Option<ServiceEntry> {
        let mut depends_on_spans = Vec::new();
        let service_file = ["service.yaml", "service.yml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file());
        let mut service = Service {
            name: name.to_string(),
            owner: None,
            depends_on: Vec::new(),
            labels: IndexMap::new(),
            file: self.display_path(dir),
        };
        if let Some(file) = service_file {
            service.file = self.display_path(&file);
            let mut docs = self.read_docs(&file, &[DocKind::Service]);
            if let Some(doc) = docs.first_mut() {
                self.check_document(doc);
                if let Some(n) = doc.node.at(&path(&["metadata", "name"]))
                    && let Some(declared) = n.as_str()
                    && declared != name
                {
                    self.diags.push(
                        Diagnostic::error(
                            "name-mismatch",
                            n.span,
                            format!("service folder `{name}` holds a Service named `{declared}`"),
                        )
                        .with_help(format!("`metadata.name` must be `{name}`")),
                    );
                }
                let meta: Option<Metadata> = doc
                    .node
                    .get("metadata")
                    .and_then(|n| self.typed(n, &path(&["metadata"])));
                let spec: Option<ServiceSpec> = match doc.node.get("spec") {
                    Some(n) => self.typed(n, &path(&["spec"])),
                    None => Some(ServiceSpec::default()),
                };
                if let Some(spec) = spec {
                    depends_on_spans = (0..spec.depends_on.len())
                        .map(|i| {
                            doc.node.span_of(&[
                                PathSeg::from("spec"),
                                PathSeg::from("dependsOn"),
                                PathSeg::Index(i),
                            ])
                        })
                        .collect();
                    service.owner = spec.owner;
                    service.depends_on = spec.depends_on;
                }
                if let Some(meta) = meta {
                    service.labels = meta.labels;
                }
            }
        }
        let mut seen: IndexMap<String, Span> = IndexMap::new();
        for component_dir in read_dir_sorted(&dir.join("components")) {
            if !component_dir.is_dir() {
                if is_yaml(&component_dir) {
                    let id = self
                        .sources
                        .add(self.display_path(&component_dir), String::new());
                    self.diags.push(
                        Diagnostic::warning(
                            "ignored-file",
                            self.sources.span_at(id, 0, 0),
                            "YAML file directly under components/ is ignored",
                        )
                        .with_help(
                            "put each component in its own folder: components/NAME/KIND.yaml",
                        ),
                    );
                }
                continue;
            }
            self.load_component_dir(name, &component_dir, components, &mut seen);
        }
        Some(ServiceEntry {
            service,
            span: ref_span,
            depends_on_spans,
        })
    }

    fn load_component_dir(
        &mut self,
        service: &str,
        dir: &Path,
        components: &mut Vec<RawComponent>,
        seen: &mut IndexMap<String, Span>,
    ) {
        let component_kinds: Vec<DocKind> =
            Kind::ALL.iter().map(|k| DocKind::Component(*k)).collect();
        let mut infra_docs = Vec::new();
        let mut found = 0;
        for file in read_dir_sorted(dir)
            .into_iter()
            .filter(|p| p.is_file() && is_yaml(p))
        {
            let is_infra = file.file_stem().is_some_and(|s| s == "infra");
            // A component file may carry its ComponentInfra too, after `---`.
            let expected: Vec<DocKind> = if is_infra {
                vec![DocKind::ComponentInfra]
            } else {
                let mut k = component_kinds.clone();
                k.push(DocKind::ComponentInfra);
                k
            };
            let before = self.diags.len();
            let docs = self.read_docs(&file, &expected);
            if docs.is_empty() && !is_infra && self.diags.len() > before {
                // The component exists but could not be read: references to it are not
                // reported again as unknown.
                let name = dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                self.broken.push(Address::new(service, name));
            }
            for mut doc in docs {
                if doc.kind == DocKind::ComponentInfra {
                    self.check_envelope(&mut doc);
                    infra_docs.push(doc);
                    continue;
                }
                found += 1;
                self.check_envelope(&mut doc);
                let DocKind::Component(kind) = doc.kind else {
                    continue;
                };
                let Some(meta) = doc
                    .node
                    .get("metadata")
                    .and_then(|n| serde_json::from_value::<ComponentMetadata>(n.to_json()).ok())
                else {
                    continue;
                };
                let name_span = doc.node.span_of(&path(&["metadata", "name"]));
                if meta.service != service {
                    let span = doc.node.span_of(&path(&["metadata", "service"]));
                    self.diags.push(
                        Diagnostic::error("name-mismatch", span, format!("component `{}` says it belongs to service `{}`, but it is in the folder of service `{service}`", meta.name, meta.service))
                            .with_help(format!("set `metadata.service: {service}` or move the component")),
                    );
                }
                if let Some(first) = seen.get(&meta.name) {
                    self.diags.push(
                        Diagnostic::error(
                            "duplicate-name",
                            name_span,
                            format!("component `{service}/{}` is defined twice", meta.name),
                        )
                        .with_related(*first, "first defined here"),
                    );
                    continue;
                }
                seen.insert(meta.name.clone(), name_span);
                let spec = doc
                    .node
                    .get("spec")
                    .cloned()
                    .unwrap_or_else(|| Node::new(Value::Map(Vec::new()), doc.node.span));
                components.push(RawComponent {
                    address: Address::new(service, meta.name.clone()),
                    kind,
                    file: doc.file,
                    metadata: meta,
                    name_span,
                    spec,
                    spec_key_span: doc.node.key("spec").map(|k| k.span),
                    infra: None,
                    infra_file: None,
                    typed: None,
                    typed_infra: None,
                });
            }
        }
        if found == 0 && infra_docs.is_empty() {
            return;
        }
        if found == 0 {
            let doc = &infra_docs[0];
            self.diags.push(Diagnostic::error(
                "missing-document",
                doc.node.span,
                format!(
                    "{} has infra.yaml but no component document",
                    self.display_path(dir).display()
                ),
            ));
            return;
        }
        for doc in infra_docs {
            let name = doc
                .node
                .at(&path(&["metadata", "name"]))
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_string();
            let target = components
                .iter_mut()
                .rev()
                .find(|c| c.address.service == service && c.metadata.name == name);
            match target {
                Some(c) if c.infra.is_none() => {
                    c.infra = Some(
                        doc.node
                            .get("spec")
                            .cloned()
                            .unwrap_or_else(|| Node::new(Value::Map(Vec::new()), doc.node.span)),
                    );
                    c.infra_file = Some(doc.file);
                }
                Some(_) => {
                    self.diags.push(Diagnostic::error(
                        "duplicate-name",
                        doc.node.span_of(&path(&["metadata", "name"])),
                        format!("a second ComponentInfra for `{service}/{name}`"),
                    ));
                }
                None => {
                    let span = doc.node.span_of(&path(&["metadata", "name"]));
                    self.diags.push(Diagnostic::error("unknown-component", span, format!("infra.yaml is for component `{name}`, which is not defined in this folder")));
                }
            }
        }
    }

    fn apply_overrides(
        &mut self,
        env: &Doc,
        components: &mut [RawComponent],
        services: &IndexMap<String, ServiceEntry>,
    ) {
        let Some(list) = env
            .node
            .at(&path(&["spec", "overrides"]))
            .and_then(Node::as_seq)
        else {
            return;
        };
        // Indexes, so that many overrides on many components stay linear.
        let mut by_address: IndexMap<String, usize> = IndexMap::with_capacity(components.len());
        let mut by_service: IndexMap<String, Vec<usize>> = IndexMap::new();
        for (i, c) in components.iter().enumerate() {
            by_address.insert(c.address.to_string(), i);
            by_service
                .entry(c.address.service.clone())
                .or_default()
                .push(i);
        }
        for (i, item) in list.iter().enumerate() {
            let Some(target_node) = item.get("target") else {
                continue;
            };
            let Some(target) = target_node.as_str() else {
                continue;
            };
            let matches: Vec<usize> = if target.contains('/') {
                by_address.get(target).map(|i| vec![*i]).unwrap_or_default()
            } else {
                by_service.get(target).cloned().unwrap_or_default()
            };
            if matches.is_empty() {
                let mut candidates: Vec<String> =
                    components.iter().map(|c| c.address.to_string()).collect();
                candidates.extend(services.keys().cloned());
                let mut d = Diagnostic::error(
                    "override-target",
                    target_node.span,
                    format!(
                        "override #{} targets `{target}`, which is neither a component nor a service of this stack",
                        i + 1
                    ),
                );
                d = match did_you_mean(target, candidates.iter().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(
                        "targets are component addresses (`service/component`) or service names",
                    ),
                };
                self.diags.push(d);
                continue;
            }
            for idx in matches {
                let c = &mut components[idx];
                if let Some(spec) = item.get("spec")
                    && spec.as_map().is_some()
                {
                    merge(&mut c.spec, spec);
                }
                if let Some(infra) = item.get("infra") {
                    if c.kind.info().infra == crate::kinds::InfraUse::None {
                        self.diags.push(
                            Diagnostic::error("infra-not-supported", item.key("infra").map(|k| k.span).unwrap_or(infra.span), format!("override #{} sets `infra` on {} `{}`, a kind without infra.yaml", i + 1, c.kind, c.address))
                                .with_help("infra.yaml (resources, scaling, networking) applies to MicroService, Worker and CronJob"),
                        );
                        continue;
                    }
                    if infra.as_map().is_some() {
                        match &mut c.infra {
                            Some(existing) => merge(existing, infra),
                            None => c.infra = Some(infra.clone()),
                        }
                    }
                }
            }
        }
    }
}

fn collect_variables(doc: &Node, into: &mut IndexMap<String, String>) {
    let Some(vars) = doc.at(&path(&["spec", "variables"])).and_then(Node::as_map) else {
        return;
    };
    for (k, v) in vars {
        let text = match &v.value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        into.insert(k.name.clone(), text);
    }
}

fn interpolate_except(
    node: &mut Node,
    skip: &str,
    scope: &Scope<'_>,
    sources: &Sources,
    out: &mut Vec<Diagnostic>,
) {
    if let Value::Map(entries) = &mut node.value {
        for (k, v) in entries.iter_mut() {
            if k.name != skip {
                interpolate(v, scope, sources, out);
            }
        }
    }
}

/// Builds a path from literal keys.
pub(crate) fn path(keys: &[&str]) -> Vec<PathSeg> {
    keys.iter().map(|k| PathSeg::from(*k)).collect()
}

/// Parses `spec.ports[0].port` (or serde_path_to_error's `ports[0].port`) into segments.
pub(crate) fn parse_serde_path(text: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    if text == "." || text.is_empty() {
        return out;
    }
    for part in text.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(PathSeg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(n) = stripped[..end].parse() {
                    out.push(PathSeg::Index(n));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            out.push(PathSeg::Key(rest.to_string()));
        }
    }
    out
}

fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

fn list_yaml_stems(dir: &Path) -> Vec<String> {
    read_dir_sorted(dir)
        .into_iter()
        .filter(|p| is_yaml(p))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_serde_paths() {
        assert_eq!(
            parse_serde_path("ports[0].port"),
            vec![
                PathSeg::from("ports"),
                PathSeg::Index(0),
                PathSeg::from("port")
            ]
        );
        assert_eq!(parse_serde_path("."), Vec::<PathSeg>::new());
    }
}
