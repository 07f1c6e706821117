//! The provider contract: create, read, update, delete and find for one kind, typed over the
//! kind's spec ([`KindProvider`]) and erased for the engine ([`Provider`], [`Registry`]).
//!
//! Every provider follows one layout (see providers/TEMPLATE.md): spec types, then create,
//! read, update, delete and find in that order, then helpers. Create ends by waiting for the
//! resource to be ready and reading its outputs; read returns `None` when the resource is gone;
//! delete treats "not found" as done.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use panka_format::model::ComponentInfraSpec;
use panka_graph::ResourceKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an error means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource does not exist.
    NotFound,
    /// Trying again may work: why, and so how long it is worth trying ([`Transient::budget`]).
    /// The engine retries the action.
    Transient(Transient),
    /// AWS refused the request as invalid; the configuration must change.
    Invalid,
    /// A waiter ran out of time.
    Timeout,
    /// The resource is in a state that forbids the operation (being deleted, name taken).
    Conflict,
    /// A resource with this component's AWS name exists but its panka tags do not name this
    /// stack, environment, service and component: panka will not take it over (`panka import`
    /// adopts it on purpose).
    NotOwned,
}

impl ErrorKind {
    /// Whether the engine tries the action again.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Transient(_))
    }
}

/// Why a failed call may work when tried again. Each cause has its own budget: how long the
/// engine keeps retrying an action that fails with it (from the first such failure), with
/// jittered exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transient {
    /// AWS throttled the request (`ThrottlingException`, `Throttling`, `RequestLimitExceeded`,
    /// `SlowDown`, HTTP 429) after the SDK's own retries.
    Throttled,
    /// AWS answered 5xx after the SDK's own retries.
    ServerError,
    /// No answer: a timeout, a reset connection, a response lost on the way back. The call may
    /// have taken effect, so the retry must find before it creates.
    NoResponse,
    /// Eventual consistency: something created a moment ago is not visible yet (a NotFound
    /// right after a create, `InvalidGroup.NotFound` right after creating a security group).
    NotYetVisible,
    /// IAM propagation: a role or policy created a moment ago cannot be assumed or used yet.
    IamPropagation,
    /// Lambda: the execution role is not usable yet, or an update of the function is in
    /// progress (`ResourceConflictException`).
    Lambda,
    /// A dependency AWS is still wiring: a target group not yet associated with its load
    /// balancer's listener rule, a service-linked role being created.
    DependencyNotReady,
    /// A create found a resource of its name already there (`DuplicateTargetGroupName`,
    /// `DuplicateLoadBalancerName`, `ResourceAlreadyExistsException`, ...): most often one an
    /// earlier try of this create made, whose answer was lost, so the retry finds the resource
    /// and checks its tags before using it; anybody else's is refused as not owned.
    AlreadyExists,
}

impl Transient {
    /// How long the engine keeps retrying an action failing with this cause.
    pub fn budget(self) -> std::time::Duration {
        use std::time::Duration;
        match self {
            // The SDK already retried (8 attempts, see panka-aws); a service throttling for
            // longer than this is overloaded and the run should say so.
            Transient::Throttled => Duration::from_secs(5 * 60),
            Transient::ServerError | Transient::NoResponse => Duration::from_secs(2 * 60),
            // terraform-provider-aws: `propagationTimeout = 2 * time.Minute` (internal/service/ec2,
            // internal/service/iam: `iamPropagationTimeout`).
            Transient::NotYetVisible | Transient::IamPropagation => Duration::from_secs(2 * 60),
            // terraform-provider-aws internal/service/lambda: `lambdaPropagationTimeout =
            // 5 * time.Minute` for roles, and function updates waited on for minutes.
            Transient::Lambda => Duration::from_secs(5 * 60),
            // terraform-provider-aws internal/service/ecs/service.go retries CreateService on
            // these for `propagationTimeout` (2 minutes); service-linked roles take as long.
            Transient::DependencyNotReady => Duration::from_secs(2 * 60),
            // One find settles it; the budget covers a part of a resource (a listener, a rule)
            // that its find does not report, converged by the update the retry runs.
            Transient::AlreadyExists => Duration::from_secs(60),
        }
    }

    /// A few words for summaries: "throttled", "IAM propagation".
    pub fn describe(self) -> &'static str {
        match self {
            Transient::Throttled => "throttled",
            Transient::ServerError => "AWS server error",
            Transient::NoResponse => "no response",
            Transient::NotYetVisible => "not visible yet",
            Transient::IamPropagation => "IAM propagation",
            Transient::Lambda => "Lambda not ready",
            Transient::DependencyNotReady => "dependency not ready",
            Transient::AlreadyExists => "already exists",
        }
    }
}

/// A provider's failure, with its class and the AWS error behind it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The message and every cause, for summaries.
    pub fn chain(&self) -> String {
        let mut text = self.message.clone();
        let mut source: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// What a provider is asked to make real.
#[derive(Clone, Debug)]
pub struct Request {
    pub address: String,
    pub kind: String,
    /// The AWS name.
    pub name: String,
    /// The configuration (`{name, spec, infra, tags}`), with every `valueFrom` carrying its
    /// resolved value under `resolved`.
    pub config: Value,
    /// Tags every AWS resource of it carries.
    pub tags: BTreeMap<String, String>,
    pub region: String,
}

/// What exists after an operation: its AWS ids and its outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub physical_ids: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

/// Who a resource is, as the state records it: everything a read may use. It carries no spec,
/// so a read cannot echo the configuration back; what it returns is what AWS said.
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    pub address: &'a str,
    /// The AWS name panka derived for it (the component's `name`).
    pub name: &'a str,
    pub region: &'a str,
    /// The AWS ids recorded when it was created (ARNs, URLs, ids): a read never looks them up.
    pub ids: &'a BTreeMap<String, String>,
    /// The outputs recorded at the last apply.
    pub outputs: &'a BTreeMap<String, String>,
    /// The tags panka gives it (stack, environment, service, component), which a read compares
    /// with the tags AWS reports.
    pub tags: &'a BTreeMap<String, String>,
}

/// What a read of one kind found: ids and outputs, the live settings as the kind's spec, and
/// the fields of that spec AWS does not report.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation<S> {
    pub outcome: Outcome,
    pub spec: S,
    /// Spec fields AWS does not report, as paths in the spec's own spelling: `dependsOn`,
    /// `deadLetter.retentionDays`, `environment[].value` (`[]`: every item, matched by name).
    /// Their recorded values stand in the observed configuration, and drift counts them as
    /// unchecked.
    /// Spec fields of `unobserved` may also name the component's infra settings, as
    /// `infra.PATH` (`infra.networking.subnets`).
    pub unobserved: Vec<&'static str>,
    /// The component's sizing as AWS reports it (`infra.yaml`: CPU and memory, task count and
    /// autoscaling, networking), for the kinds that have one.
    pub infra: Option<ComponentInfraSpec>,
}

impl<S> Observation<S> {
    pub fn new(outcome: Outcome, spec: S) -> Self {
        Observation {
            outcome,
            spec,
            unobserved: Vec::new(),
            infra: None,
        }
    }

    /// Adds the infra settings AWS reports.
    pub fn with_infra(mut self, infra: ComponentInfraSpec) -> Self {
        self.infra = Some(infra);
        self
    }

    /// Adds fields AWS does not report.
    pub fn unobserved(mut self, fields: &[&'static str]) -> Self {
        self.unobserved.extend_from_slice(fields);
        self
    }
}

/// A spec field AWS does not report, and how panka knows it instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unobservable {
    /// The field, as a spec path (`dependsOn`, `code.path`).
    pub field: &'static str,
    /// How panka tracks it instead.
    pub tracked_by: &'static str,
}

/// What a read finds, for the engine: ids and outputs, and the live settings in the form of
/// `config.spec` (or of a shared resource's settings), reconciled with the recorded ones (see
/// [`crate::observe::reconcile`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub outcome: Outcome,
    /// The live settings, with references put back where AWS holds their values, and the
    /// recorded value standing for each field in `unobserved` and `managed`.
    pub spec: Value,
    /// Fields AWS does not report that the recorded configuration has (their recorded values
    /// stand).
    pub unobserved: Vec<String>,
    /// Fields AWS manages by design that the recorded configuration lets it manage (an
    /// autoscaled desired count): their live values are not drift.
    pub managed: Vec<String>,
    /// The component's infra settings as AWS reports them (reconciled like `spec`), for the
    /// kinds that have infra; `None` when the kind has none.
    pub infra: Option<Value>,
}

/// What the state holds of a resource besides its configuration.
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    pub ids: &'a BTreeMap<String, String>,
    pub outputs: &'a BTreeMap<String, String>,
}

/// A request typed for one kind.
#[derive(Clone, Debug)]
pub struct Target<'a, S> {
    pub address: &'a str,
    pub name: &'a str,
    pub spec: S,
    pub tags: &'a BTreeMap<String, String>,
    pub region: &'a str,
    /// The untyped configuration, for resolved `valueFrom` values.
    pub config: &'a Value,
}

/// One kind's provider, typed over its spec.
pub trait KindProvider: Send + Sync + 'static {
    type Spec: DeserializeOwned + Serialize + Send + Sync;
    /// The kind it serves (`S3`, `SQS`, ...).
    const KIND: &'static str;
    /// The spec fields AWS does not report, each with how panka tracks it instead (a digest
    /// tag, a secret ARN, panka's own setting): listed in docs/reference/observed-state.md.
    const UNOBSERVABLE: &'static [Unobservable] = &[];

    /// Creates the resource, waits until it is ready, and returns its ids and outputs.
    fn create(
        &self,
        target: &Target<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Outcome, ProviderError>> + Send;
    /// Reads the resource from AWS as the kind's spec; `None` when it does not exist. It is
    /// given the resource's identity only: every setting it reports comes from AWS.
    fn read(
        &self,
        id: &Identity<'_>,
    ) -> impl Future<Output = Result<Option<Observation<Self::Spec>>, ProviderError>> + Send;
    /// Fields AWS changes by design that `recorded` lets it change (an autoscaled desired
    /// count, storage grown by storage autoscaling): their live values are not drift.
    fn managed_by_aws(recorded: &Self::Spec, live: &Self::Spec) -> Vec<&'static str> {
        let _ = (recorded, live);
        Vec::new()
    }
    /// Infra fields (paths under `infra`) AWS changes by design that the recorded infra lets it
    /// change: the task count under autoscaling (`scaling.replicas`).
    fn managed_infra(recorded: &ComponentInfraSpec) -> Vec<&'static str> {
        let _ = recorded;
        Vec::new()
    }
    /// Brings an existing resource to the spec, in place.
    fn update(
        &self,
        target: &Target<'_, Self::Spec>,
        ids: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Outcome, ProviderError>> + Send;
    /// Deletes the resource; success when it is already gone.
    fn delete(
        &self,
        name: &str,
        spec: Option<Self::Spec>,
        ids: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Finds the resource by its AWS name and panka tags (after a crash); `None` when absent.
    fn find(
        &self,
        target: &Target<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Option<Outcome>, ProviderError>> + Send;
    /// How the resource is doing, in a few words for `panka status` (tasks running, instance
    /// state); `None` when the kind has nothing to say beyond existing, or it does not exist.
    fn health(
        &self,
        target: &Target<'_, Self::Spec>,
        ids: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Option<String>, ProviderError>> + Send {
        let _ = (target, ids);
        async { Ok(None) }
    }
}

/// A provider as the engine sees it: untyped, object-safe.
pub trait Provider: Send + Sync {
    fn kind(&self) -> &'static str;
    /// The spec fields AWS does not report ([`KindProvider::UNOBSERVABLE`]).
    fn unobservable(&self) -> &'static [Unobservable] {
        &[]
    }
    fn create<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<Outcome, ProviderError>>;
    /// Reads the resource from AWS; `req` carries the recorded configuration, which the live
    /// settings are reconciled with (references, unobservable and AWS-managed fields).
    fn read<'a>(
        &'a self,
        req: &'a Request,
        recorded: Recorded<'a>,
    ) -> BoxFuture<'a, Result<Option<Observed>, ProviderError>>;
    fn update<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Outcome, ProviderError>>;
    fn delete<'a>(
        &'a self,
        name: &'a str,
        config: &'a Value,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    fn find<'a>(
        &'a self,
        req: &'a Request,
    ) -> BoxFuture<'a, Result<Option<Outcome>, ProviderError>>;
    fn health<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        let _ = (req, ids);
        Box::pin(async { Ok(None) })
    }
}

/// Erases a [`KindProvider`].
pub struct Erased<P>(pub P);

fn spec_of<S: DeserializeOwned>(kind: &str, config: &Value) -> Result<S, ProviderError> {
    serde_json::from_value(config.get("spec").cloned().unwrap_or(Value::Null)).map_err(|e| {
        ProviderError::with_source(
            ErrorKind::Invalid,
            format!("the recorded {kind} configuration does not match this version of panka"),
            e,
        )
    })
}

/// Checks that a provider reports only the outputs the format declares for its kind (a
/// component's `valueFrom` can name only those): in debug builds, which every test runs, an
/// undeclared output is a panic naming it.
fn declared_outputs(kind: &str, outcome: &Outcome) {
    if let Some(ResourceKind::Component(k)) = ResourceKind::parse(kind) {
        for name in outcome.outputs.keys() {
            debug_assert!(
                k.output(name).is_some(),
                "the {kind} provider reports `{name}`, an output the format does not declare"
            );
        }
    }
}

fn target<'a, S>(req: &'a Request, spec: S) -> Target<'a, S> {
    Target {
        address: &req.address,
        name: &req.name,
        spec,
        tags: &req.tags,
        region: &req.region,
        config: &req.config,
    }
}

impl<P: KindProvider> Provider for Erased<P> {
    fn kind(&self) -> &'static str {
        P::KIND
    }

    fn unobservable(&self) -> &'static [Unobservable] {
        P::UNOBSERVABLE
    }

    fn create<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<Outcome, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            let made = self.0.create(&target(req, spec)).await?;
            declared_outputs(P::KIND, &made);
            Ok(made)
        })
    }

    fn read<'a>(
        &'a self,
        req: &'a Request,
        recorded: Recorded<'a>,
    ) -> BoxFuture<'a, Result<Option<Observed>, ProviderError>> {
        Box::pin(async move {
            let id = Identity {
                address: &req.address,
                name: &req.name,
                region: &req.region,
                ids: recorded.ids,
                outputs: recorded.outputs,
                tags: &req.tags,
            };
            let Some(found) = self.0.read(&id).await? else {
                return Ok(None);
            };
            declared_outputs(P::KIND, &found.outcome);
            let live = serde_json::to_value(&found.spec).map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Invalid,
                    format!("the observed {} settings do not serialize", P::KIND),
                    e,
                )
            })?;
            let managed = match spec_of::<P::Spec>(P::KIND, &req.config) {
                Ok(rec) => P::managed_by_aws(&rec, &found.spec),
                Err(_) => Vec::new(),
            };
            let settings = crate::observe::settings(&req.config);
            let (infra_unobserved, spec_unobserved): (Vec<&str>, Vec<&str>) = found
                .unobserved
                .iter()
                .partition(|p| p.starts_with("infra."));
            let reconciled = crate::observe::reconcile(
                &settings,
                req.config.get("inputs"),
                live,
                &spec_unobserved,
                &managed,
            );
            let mut unobserved = reconciled.unobserved;
            let mut managed = reconciled.managed;
            let infra = match found.infra {
                Some(live_infra) => {
                    let recorded = req.config.get("infra").cloned().unwrap_or(Value::Null);
                    let aws_managed =
                        serde_json::from_value::<ComponentInfraSpec>(recorded.clone())
                            .map(|r| P::managed_infra(&r))
                            .unwrap_or_default();
                    let live_infra = serde_json::to_value(&live_infra).map_err(|e| {
                        ProviderError::with_source(
                            ErrorKind::Invalid,
                            format!("the observed {} infra does not serialize", P::KIND),
                            e,
                        )
                    })?;
                    let stripped: Vec<&str> = infra_unobserved
                        .iter()
                        .map(|p| p.trim_start_matches("infra."))
                        .collect();
                    let r = crate::observe::reconcile(
                        &recorded,
                        None,
                        live_infra,
                        &stripped,
                        &aws_managed,
                    );
                    unobserved.extend(r.unobserved.into_iter().map(|p| format!("infra.{p}")));
                    managed.extend(r.managed.into_iter().map(|p| format!("infra.{p}")));
                    Some(r.live)
                }
                None => None,
            };
            Ok(Some(Observed {
                outcome: found.outcome,
                spec: reconciled.live,
                unobserved,
                managed,
                infra,
            }))
        })
    }

    fn update<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Outcome, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            let updated = self.0.update(&target(req, spec), ids).await?;
            declared_outputs(P::KIND, &updated);
            Ok(updated)
        })
    }

    fn delete<'a>(
        &'a self,
        name: &'a str,
        config: &'a Value,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, config).ok();
            self.0.delete(name, spec, ids).await
        })
    }

    fn find<'a>(
        &'a self,
        req: &'a Request,
    ) -> BoxFuture<'a, Result<Option<Outcome>, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            self.0.find(&target(req, spec)).await
        })
    }

    fn health<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            self.0.health(&target(req, spec), ids).await
        })
    }
}

/// Providers by the format's kinds (and the stack's shared resources).
#[derive(Clone, Default)]
pub struct Registry {
    providers: HashMap<ResourceKind, Arc<dyn Provider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.kinds())
            .finish()
    }
}

/// The kind a provider names, as the format knows it.
fn kind_named(name: &str) -> ResourceKind {
    ResourceKind::parse(name).unwrap_or_else(|| {
        // Providers name their kind in a constant; a name the format does not know is a bug
        // that `registry_covers_every_kind` (providers) catches.
        panic!("`{name}` is not a kind of the stack format")
    })
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a typed provider.
    ///
    /// # Panics
    /// When `P::KIND` is not a kind of the format.
    pub fn register<P: KindProvider>(&mut self, provider: P) {
        self.providers
            .insert(kind_named(P::KIND), Arc::new(Erased(provider)));
    }

    /// Registers an untyped provider (test fakes).
    ///
    /// # Panics
    /// When `kind` is not a kind of the format.
    pub fn register_dyn(&mut self, kind: &str, provider: Arc<dyn Provider>) {
        self.providers.insert(kind_named(kind), provider);
    }

    /// The provider of a kind, by its name as the state records it.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Provider>> {
        self.providers.get(&ResourceKind::parse(kind)?).cloned()
    }

    /// The provider of a kind.
    pub fn provider(&self, kind: ResourceKind) -> Option<Arc<dyn Provider>> {
        self.providers.get(&kind).cloned()
    }

    /// The kinds served, by name, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<&'static str> = self.providers.keys().map(|k| k.name()).collect();
        k.sort_unstable();
        k
    }
}
