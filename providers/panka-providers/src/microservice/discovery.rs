//! Service discovery: in a stack that uses it (a port with `public: false`, or a reference to
//! an `internalHost`/`internalUrl` output), every MicroService with ports is registered in the
//! stack's private DNS namespace (`_shared/namespace`, AWS Cloud Map); a stack that does not
//! has no namespace and no registrations. Its Cloud Map service, named
//! `COMPONENT.SERVICE` (unique in the stack), answers `COMPONENT.SERVICE.NAMESPACE` with an A
//! record per running task (multivalue routing, TTL 10 s); the ECS service's
//! `serviceRegistries` points at it, and ECS registers and deregisters the tasks' addresses.
//! The Cloud Map service has a custom health check config, as ECS requires: ECS reports the
//! tasks' health itself.
//! https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-discovery.html
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceRegistry.html
//!
//! Outputs: `internalHost` (`COMPONENT.SERVICE.NAMESPACE`), `internalUrl`
//! (`http://HOST:PORT`, the first port) and, with several ports, `internalUrl.PORT` per port.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsRecord, FilterCondition, HealthCheckCustomConfig, RecordType, RoutingPolicy,
    ServiceFilter, ServiceFilterName,
};
use panka_engine::resolve::input;
use panka_engine::{ErrorKind, ProviderError, Target, Transient};
use serde_json::Value;

use super::{EcsKind, EcsServiceProvider, Workload, container_name};
use crate::errors::{aws_error, check_owner, poll_while};
use crate::namespace::{creator_request_id, sd_tags};

/// The TTL of the tasks' A records: short, so that a replaced task's address is not used for
/// long after ECS deregistered it.
const RECORD_TTL: i64 = 10;
/// DeleteService refuses (`ResourceInUse`) while instances are registered: ECS deregisters a
/// task when it stops, up to its stop timeout (at most 120 s) after the service was deleted.
const INSTANCES_WAIT: Duration = Duration::from_secs(300);
const INSTANCES_POLL: Duration = Duration::from_secs(10);

/// Physical id of the component's Cloud Map service.
pub(crate) const DISCOVERY_ID: &str = "discoveryService";
/// Physical id of its ARN (the ECS service's registry).
pub(crate) const DISCOVERY_ARN: &str = "discoveryServiceArn";

/// The stack's namespace, from the resolved inputs.
pub(crate) struct Namespace {
    pub id: String,
    pub name: String,
}

/// The namespace a component with ports registers in (`_shared/namespace`'s outputs).
///
/// # Errors
/// [`ErrorKind::Invalid`] when the namespace was not applied first.
pub(crate) fn namespace_of(config: &Value) -> Result<Option<Namespace>, ProviderError> {
    // Not an input: the stack does not use service discovery.
    let Some(namespace) = input(config, "_shared/namespace") else {
        return Ok(None);
    };
    let outputs = namespace.outputs;
    match (outputs.get("id"), outputs.get("name")) {
        (Some(id), Some(name)) => Ok(Some(Namespace {
            id: id.clone(),
            name: name.clone(),
        })),
        _ => Err(ProviderError::new(
            ErrorKind::Invalid,
            "the stack's _shared/namespace has no outputs; it must be applied first",
        )),
    }
}

/// The Cloud Map service's name: `COMPONENT.SERVICE` of the address `SERVICE/COMPONENT`.
pub(crate) fn discovery_name(address: &str) -> String {
    let component = container_name(address);
    match address.split_once('/') {
        Some((service, _)) => format!("{component}.{service}"),
        None => component.to_string(),
    }
}

/// The outputs of a service registered as `host`: `internalHost`, `internalUrl` of the first
/// port, and `internalUrl.PORT` of each port when there are several.
pub(crate) fn internal_outputs(host: &str, w: &Workload<'_>) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let Some(first) = w.ports.first() else {
        return outputs;
    };
    outputs.insert("internalHost".to_string(), host.to_string());
    outputs.insert(
        "internalUrl".to_string(),
        format!("http://{host}:{}", first.port),
    );
    if w.ports.len() > 1 {
        for p in w.ports {
            outputs.insert(
                format!("internalUrl.{}", p.name),
                format!("http://{host}:{}", p.port),
            );
        }
    }
    outputs
}

/// The MicroServices among the components this one references through an `internal*` output:
/// their security group and the port the referenced URL or host names. A `internalHost` is
/// the first port's (`internalUrl`'s).
pub(crate) fn referenced_services(config: &Value) -> Vec<(String, i32)> {
    let Some(inputs) = config.get("inputs").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (path, i) in inputs {
        if path.starts_with(panka_engine::resolve::SHARED_PREFIX) {
            continue;
        }
        let Some(outputs) = i.get("outputs").and_then(Value::as_object) else {
            continue;
        };
        let Some(value) = i.get("value").and_then(Value::as_str) else {
            continue;
        };
        let out = |k: &str| outputs.get(k).and_then(Value::as_str);
        let (Some(group), Some(host)) = (out("securityGroupId"), out("internalHost")) else {
            continue;
        };
        // The output referenced is the one whose value this is.
        let url = if value == host {
            out("internalUrl")
        } else {
            outputs
                .iter()
                .filter(|(k, _)| k.starts_with("internalUrl"))
                .filter_map(|(_, v)| v.as_str())
                .find(|v| *v == value)
        };
        let port = url
            .and_then(|u| u.rsplit(':').next())
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(port) = port
            && !found.contains(&(group.to_string(), port))
        {
            found.push((group.to_string(), port));
        }
    }
    found
}

/// The registration as the ECS service reports it (DescribeServices `serviceRegistries`): the
/// recorded Cloud Map service and the `internal*` outputs are kept only while the service still
/// registers its tasks there, so a registry removed in AWS reads back without them.
pub(crate) fn observe_registration(
    svc: &aws_sdk_ecs::types::Service,
    recorded_ids: &BTreeMap<String, String>,
    recorded_outputs: &BTreeMap<String, String>,
    outcome: &mut panka_engine::provider::Outcome,
) {
    let Some(arn) = recorded_ids.get(DISCOVERY_ARN) else {
        return;
    };
    let registered = svc
        .service_registries()
        .iter()
        .any(|r| r.registry_arn() == Some(arn.as_str()));
    if !registered {
        return;
    }
    for key in [DISCOVERY_ID, DISCOVERY_ARN] {
        if let Some(v) = recorded_ids.get(key) {
            outcome.physical_ids.insert(key.to_string(), v.clone());
        }
    }
    for (k, v) in recorded_outputs
        .iter()
        .filter(|(k, _)| k.starts_with("internalUrl") || *k == "internalHost")
    {
        outcome.outputs.insert(k.clone(), v.clone());
    }
}

impl<S: EcsKind> EcsServiceProvider<S> {
    /// The component's Cloud Map service in `ns`, made when missing (found by its name in the
    /// namespace first; one of that name is used only with the component's tags). Returns its
    /// id and ARN.
    pub(crate) async fn ensure_discovery(
        &self,
        t: &Target<'_, S>,
        ns: &Namespace,
    ) -> Result<(String, String), ProviderError> {
        let name = discovery_name(t.address);
        if let Some(found) = self.find_discovery(t, ns, &name).await? {
            return Ok(found);
        }
        let dns = DnsConfig::builder()
            .routing_policy(RoutingPolicy::Multivalue)
            .dns_records(
                DnsRecord::builder()
                    .r#type(RecordType::A)
                    .ttl(RECORD_TTL)
                    .build()
                    .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "DNS record", e))?,
            )
            .build()
            .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "DNS config", e))?;
        let created = self
            .discovery
            .create_service()
            .name(&name)
            .namespace_id(&ns.id)
            // The same request sent again by the SDK is answered with the same service.
            .creator_request_id(creator_request_id(&format!("{}/{name}", ns.id)))
            .description(format!("panka: {}", t.address))
            .dns_config(dns)
            .health_check_custom_config(HealthCheckCustomConfig::builder().build())
            .set_tags(Some(sd_tags(t.tags)))
            .send()
            .await;
        match created {
            Ok(r) => {
                let svc = r.service().ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("Cloud Map returned no service for {name}"),
                    )
                })?;
                match (svc.id(), svc.arn()) {
                    (Some(id), Some(arn)) => Ok((id.to_string(), arn.to_string())),
                    _ => Err(ProviderError::new(
                        ErrorKind::Invalid,
                        format!("Cloud Map returned service {name} without its id and ARN"),
                    )),
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_service_already_exists()) =>
            {
                // Made meanwhile (an answer lost): found by name and checked.
                self.find_discovery(t, ns, &name).await?.ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Transient(Transient::NotYetVisible),
                        format!("Cloud Map service {name} exists but is not listed yet"),
                    )
                })
            }
            Err(e) => Err(aws_error(format!("creating Cloud Map service {name}"), e)),
        }
    }

    /// The Cloud Map service `name` in `ns` (ListServices of the namespace), checked to carry
    /// the component's tags.
    pub(super) async fn find_discovery(
        &self,
        t: &Target<'_, S>,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<(String, String)>, ProviderError> {
        let filter = ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(&ns.id)
            .condition(FilterCondition::Eq)
            .build()
            .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "service filter", e))?;
        let mut token = None;
        loop {
            let page = self
                .discovery
                .list_services()
                .filters(filter.clone())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    aws_error(format!("listing the Cloud Map services of {}", ns.name), e)
                })?;
            if let Some(s) = page.services().iter().find(|s| s.name() == Some(name)) {
                let (Some(id), Some(arn)) = (s.id(), s.arn()) else {
                    return Ok(None);
                };
                let tags = self
                    .discovery
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(format!("reading the tags of Cloud Map service {name}"), e)
                    })?;
                check_owner(
                    &format!("Cloud Map service {name}"),
                    t.address,
                    tags.tags().iter().map(|t| (t.key(), t.value())),
                    t.tags,
                )?;
                return Ok(Some((id.to_string(), arn.to_string())));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// Deletes the Cloud Map service `id` (none recorded: nothing to do), once ECS has
    /// deregistered the tasks (DeleteService refuses with `ResourceInUse` before). A service
    /// gone already is fine.
    pub(crate) async fn delete_discovery(&self, id: &str) -> Result<(), ProviderError> {
        let what = format!("deleting Cloud Map service {id}");
        let attempt = || async {
            match self.discovery.delete_service().id(id).send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_service_not_found()) =>
                {
                    Ok(())
                }
                Err(e) => {
                    let in_use = e.as_service_error().is_some_and(|s| s.is_resource_in_use());
                    let mut err = aws_error(what.clone(), e);
                    if in_use {
                        err.kind = ErrorKind::Transient(Transient::DependencyNotReady);
                    }
                    Err(err)
                }
            }
        };
        let polls = (INSTANCES_WAIT.as_secs() / INSTANCES_POLL.as_secs()) as usize;
        poll_while(
            INSTANCES_POLL,
            polls,
            ErrorKind::Transient(Transient::DependencyNotReady),
            attempt,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_referenced_url_or_host_names_the_port_admitted() {
        let outputs = json!({
            "securityGroupId": "sg-api",
            "internalHost": "api.orders.dev.shop.internal",
            "internalUrl": "http://api.orders.dev.shop.internal:8080",
            "internalUrl.http": "http://api.orders.dev.shop.internal:8080",
            "internalUrl.admin": "http://api.orders.dev.shop.internal:9090",
        });
        let config = json!({"inputs": {
            "environment[0].value": {"value": "http://api.orders.dev.shop.internal:9090", "outputs": outputs},
            "environment[1].value": {"value": "api.orders.dev.shop.internal", "outputs": outputs},
            "environment[2].value": {"value": "sg-api", "outputs": outputs},
            "_shared/namespace": {"value": null, "outputs": {"id": "ns-1", "name": "dev.shop.internal"}},
        }});
        let mut found = referenced_services(&config);
        found.sort();
        assert_eq!(
            found,
            vec![("sg-api".to_string(), 8080), ("sg-api".to_string(), 9090)]
        );
    }

    #[test]
    fn a_store_reference_is_not_a_service_reference() {
        let config = json!({"inputs": {"environment[0].value": {
            "value": "db.example", "outputs": {"securityGroupId": "sg-db", "port": "5432", "endpoint": "db.example"}
        }}});
        assert!(referenced_services(&config).is_empty());
    }

    #[test]
    fn the_cloud_map_service_is_named_component_dot_service() {
        assert_eq!(discovery_name("orders/api"), "api.orders");
    }
}
