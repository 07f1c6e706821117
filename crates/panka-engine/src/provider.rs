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

use serde::de::DeserializeOwned;
use serde_json::Value;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an error means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource does not exist.
    NotFound,
    /// Throttling or a transient fault: trying again may work.
    Retryable,
    /// AWS refused the request as invalid; the configuration must change.
    Invalid,
    /// A waiter ran out of time.
    Timeout,
    /// The resource is in a state that forbids the operation (being deleted, name taken).
    Conflict,
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

/// What a read finds: ids and outputs, and the live settings in the form of `config.spec`.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub outcome: Outcome,
    pub spec: Value,
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
    type Spec: DeserializeOwned + Send + Sync;
    /// The kind it serves (`S3`, `SQS`, ...).
    const KIND: &'static str;

    /// Creates the resource, waits until it is ready, and returns its ids and outputs.
    fn create(
        &self,
        target: &Target<'_, Self::Spec>,
    ) -> impl Future<Output = Result<Outcome, ProviderError>> + Send;
    /// Reads the resource; `None` when it does not exist.
    fn read(
        &self,
        target: &Target<'_, Self::Spec>,
        ids: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Option<Observed>, ProviderError>> + Send;
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
    fn create<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<Outcome, ProviderError>>;
    fn read<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
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

    fn create<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<Outcome, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            self.0.create(&target(req, spec)).await
        })
    }

    fn read<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Option<Observed>, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            self.0.read(&target(req, spec), ids).await
        })
    }

    fn update<'a>(
        &'a self,
        req: &'a Request,
        ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Outcome, ProviderError>> {
        Box::pin(async move {
            let spec = spec_of::<P::Spec>(P::KIND, &req.config)?;
            self.0.update(&target(req, spec), ids).await
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

/// Providers by kind.
#[derive(Clone, Default)]
pub struct Registry {
    providers: HashMap<String, Arc<dyn Provider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<&String> = self.providers.keys().collect();
        kinds.sort();
        f.debug_struct("Registry").field("kinds", &kinds).finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a typed provider.
    pub fn register<P: KindProvider>(&mut self, provider: P) {
        self.providers
            .insert(P::KIND.to_string(), Arc::new(Erased(provider)));
    }

    /// Registers an untyped provider (test fakes that serve any kind).
    pub fn register_dyn(&mut self, kind: &str, provider: Arc<dyn Provider>) {
        self.providers.insert(kind.to_string(), provider);
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn Provider>> {
        self.providers.get(kind).cloned()
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.providers.keys().map(String::as_str).collect();
        k.sort();
        k
    }
}
