//! An in-memory provider for engine tests and benchmarks: resources live in a map keyed by AWS
//! name, every call takes a configurable simulated latency, and failures can be injected.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::provider::{
    BoxFuture, ErrorKind, Observed, Outcome, Provider, ProviderError, Recorded, Request,
};

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
    /// Per address: how many more mutating calls fail transiently, with which cause, and
    /// whether the call takes effect before failing (a lost response).
    transient: HashMap<String, (usize, crate::provider::Transient, bool)>,
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

    /// The next `times` creates, updates or deletes of `address` fail with `cause`; with
    /// `took_effect` each does its work first and loses its answer, as when AWS acted on a call
    /// whose response never arrived.
    pub fn fail_transiently(
        &self,
        address: &str,
        cause: crate::provider::Transient,
        times: usize,
        took_effect: bool,
    ) {
        self.lock()
            .transient
            .insert(address.to_string(), (times, cause, took_effect));
    }

    /// Puts a resource in the cloud as someone else made it: `KIND:name` with these tags.
    pub fn plant(&self, kind: &str, name: &str, tags: BTreeMap<String, String>) {
        self.lock().resources.insert(
            format!("{kind}:{name}"),
            (kind.to_string(), Value::Null, tags),
        );
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

impl FakeCloud {
    /// Whether the next mutating call of `address` fails transiently: `Some((cause,
    /// took_effect))`, counting it down.
    fn next_transient(&self, address: &str) -> Option<(crate::provider::Transient, bool)> {
        let mut inner = self.lock();
        let entry = inner.transient.get_mut(address)?;
        if entry.0 == 0 {
            return None;
        }
        entry.0 -= 1;
        Some((entry.1, entry.2))
    }
}

fn transient_error(address: &str, cause: crate::provider::Transient) -> ProviderError {
    ProviderError::new(
        ErrorKind::Transient(cause),
        format!(
            "injected transient failure ({}) for {address}",
            cause.describe()
        ),
    )
}

/// Whether a resource's panka tags name the requester.
fn owned(found: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> bool {
    [
        "panka:stack",
        "panka:environment",
        "panka:service",
        "panka:component",
    ]
    .iter()
    .all(|k| found.get(*k) == wanted.get(*k))
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
            let injected = self.cloud.next_transient(&req.address);
            if let Some((cause, false)) = injected {
                return Err(transient_error(&req.address, cause));
            }
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
            if let Some((cause, true)) = injected {
                return Err(transient_error(&req.address, cause));
            }
            Ok(outcome(&req.name, &self.outputs))
        })
    }

    fn read<'a>(
        &'a self,
        req: &'a Request,
        _recorded: Recorded<'a>,
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
                    unobserved: Vec::new(),
                    managed: Vec::new(),
                    infra: None,
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
            let injected = self.cloud.next_transient(&req.address);
            if let Some((cause, false)) = injected {
                return Err(transient_error(&req.address, cause));
            }
            let mut inner = self.cloud.lock();
            match inner.resources.get_mut(&self.id(&req.name)) {
                Some(r) => {
                    r.1 = req.config.get("spec").cloned().unwrap_or(Value::Null);
                    if let Some((cause, true)) = injected {
                        return Err(transient_error(&req.address, cause));
                    }
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
            // Deletes know their resource by AWS name: inject by name.
            let injected = self.cloud.next_transient(name);
            if let Some((cause, false)) = injected {
                return Err(transient_error(name, cause));
            }
            self.cloud.lock().resources.remove(&self.id(name));
            if let Some((cause, true)) = injected {
                return Err(transient_error(name, cause));
            }
            Ok(())
        })
    }

    fn find<'a>(
        &'a self,
        req: &'a Request,
    ) -> BoxFuture<'a, Result<Option<Outcome>, ProviderError>> {
        Box::pin(async move {
            let inner = self.cloud.lock();
            match inner.resources.get(&self.id(&req.name)) {
                None => Ok(None),
                Some((_, _, tags)) if owned(tags, &req.tags) => {
                    Ok(Some(outcome(&req.name, &self.outputs)))
                }
                Some(_) => Err(ProviderError::new(
                    ErrorKind::NotOwned,
                    format!("{} exists and is not {}'s", req.name, req.address),
                )),
            }
        })
    }
}
