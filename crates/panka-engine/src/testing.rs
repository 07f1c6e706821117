//! An in-memory provider for engine tests and benchmarks: resources live in a map keyed by AWS
//! name, every call takes a configurable simulated latency, and failures can be injected.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::provider::{BoxFuture, ErrorKind, Observed, Outcome, Provider, ProviderError, Request};

/// A fake cloud shared by the fake providers of a test.
#[derive(Clone, Debug, Default)]
pub struct FakeCloud {
    inner: Arc<Mutex<FakeInner>>,
}

#[derive(Debug, Default)]
struct FakeInner {
    /// `KIND:name` → (kind, spec, tags)
    resources: HashMap<String, (String, Value, BTreeMap<String, String>)>,
    creates: HashMap<String, usize>,
    fail: HashSet<String>,
    latency: HashMap<String, Duration>,
    default_latency: Duration,
    calls: usize,
    /// Time each address actually spent in calls (sleeps overshoot by up to a timer tick).
    spent: HashMap<String, Duration>,
}

impl FakeCloud {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call takes `d` unless an address has its own latency.
    pub fn set_default_latency(&self, d: Duration) {
        self.lock().default_latency = d;
    }

    pub fn set_latency(&self, address: &str, d: Duration) {
        self.lock().latency.insert(address.to_string(), d);
    }

    /// Calls for `address` fail from now on.
    pub fn fail(&self, address: &str) {
        self.lock().fail.insert(address.to_string());
    }

    pub fn heal(&self, address: &str) {
        self.lock().fail.remove(address);
    }

    /// `KIND:name` of the resources that exist.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().resources.keys().cloned().collect();
        v.sort();
        v
    }

    /// The spec of `KIND:name`.
    pub fn spec_of(&self, name: &str) -> Option<Value> {
        self.lock().resources.get(name).map(|(_, s, _)| s.clone())
    }

    /// How many times `KIND:name` was created.
    pub fn creates(&self, name: &str) -> usize {
        self.lock().creates.get(name).copied().unwrap_or(0)
    }

    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    /// The time an address actually spent in provider calls.
    pub fn spent(&self, address: &str) -> Duration {
        self.lock().spent.get(address).copied().unwrap_or_default()
    }

    /// A provider for `kind` backed by this cloud, reporting the outputs named (plus `name`,
    /// `arn` and `url`) with made-up values.
    pub fn provider(&self, kind: &'static str, outputs: &[&str]) -> Arc<dyn Provider> {
        Arc::new(FakeProvider {
            kind,
            cloud: self.clone(),
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
        })
    }

    async fn pause(&self, address: &str) -> Result<(), ProviderError> {
        let (d, fail) = {
            let mut inner = self.lock();
            inner.calls += 1;
            (
                inner
                    .latency
                    .get(address)
                    .copied()
                    .unwrap_or(inner.default_latency),
                inner.fail.contains(address),
            )
        };
        if !d.is_zero() {
            let start = std::time::Instant::now();
            tokio::time::sleep(d).await;
            *self.lock().spent.entry(address.to_string()).or_default() += start.elapsed();
        }
        if fail {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("injected failure for {address}"),
            ));
        }
        Ok(())
    }
}

struct FakeProvider {
    kind: &'static str,
    cloud: FakeCloud,
    outputs: Vec<String>,
}

impl FakeProvider {
    /// Names are unique per kind, as in AWS (a cluster and a load balancer may share one).
    fn id(&self, name: &str) -> String {
        format!("{}:{name}", self.kind)
    }
}

fn outcome(name: &str, extra: &[String]) -> Outcome {
    let mut outputs = BTreeMap::from([
        ("name".to_string(), name.to_string()),
        ("arn".to_string(), format!("arn:fake:{name}")),
        ("url".to_string(), format!("fake://{name}")),
    ]);
    for o in extra {
        outputs
            .entry(o.clone())
            .or_insert_with(|| format!("fake-{o}-{name}"));
    }
    Outcome {
        physical_ids: BTreeMap::from([("name".to_string(), name.to_string())]),
        outputs,
    }
}

impl Provider for FakeProvider {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn create<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<Outcome, ProviderError>> {
        Box::pin(async move {
            self.cloud.pause(&req.address).await?;
            let mut inner = self.cloud.lock();
            let id = self.id(&req.name);
            if inner.resources.contains_key(&id) {
                return Err(ProviderError::new(
                    ErrorKind::Conflict,
                    format!("{} already exists", req.name),
                ));
            }
            inner.resources.insert(
                id.clone(),
                (
                    self.kind.to_string(),
                    req.config.get("spec").cloned().unwrap_or(Value::Null),
                    req.tags.clone(),
                ),
            );
            *inner.creates.entry(id).or_default() += 1;
            Ok(outcome(&req.name, &self.outputs))
        })
    }

    fn read<'a>(
        &'a self,
        req: &'a Request,
        _ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Option<Observed>, ProviderError>> {
        Box::pin(async move {
            self.cloud.pause(&req.address).await?;
            Ok(self
                .cloud
                .lock()
                .resources
                .get(&self.id(&req.name))
                .map(|(_, spec, _)| Observed {
                    outcome: outcome(&req.name, &self.outputs),
                    spec: spec.clone(),
                }))
        })
    }

    fn update<'a>(
        &'a self,
        req: &'a Request,
        _ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Outcome, ProviderError>> {
        Box::pin(async move {
            self.cloud.pause(&req.address).await?;
            let mut inner = self.cloud.lock();
            match inner.resources.get_mut(&self.id(&req.name)) {
                Some(r) => {
                    r.1 = req.config.get("spec").cloned().unwrap_or(Value::Null);
                    Ok(outcome(&req.name, &self.outputs))
                }
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("{} does not exist", req.name),
                )),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        name: &'a str,
        _config: &'a Value,
        _ids: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.cloud.pause(name).await?;
            self.cloud.lock().resources.remove(&self.id(name));
            Ok(())
        })
    }

    fn find<'a>(
        &'a self,
        req: &'a Request,
    ) -> BoxFuture<'a, Result<Option<Outcome>, ProviderError>> {
        Box::pin(async move {
            let inner = self.cloud.lock();
            Ok(inner
                .resources
                .get(&self.id(&req.name))
                .filter(|(_, _, tags)| tags.get("panka:stack") == req.tags.get("panka:stack"))
                .map(|_| outcome(&req.name, &self.outputs)))
        })
    }
}
